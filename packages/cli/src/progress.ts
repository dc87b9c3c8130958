/**
 * The per-epoch progress bar of `train` (cli-progress): batches done, the running mean loss, the
 * elapsed time and the ETA. Drawn only on a TTY and when enabled (`--no-progress` turns it off);
 * otherwise silent, since the epoch summary line is printed either way.
 */
import { SingleBar } from "cli-progress";

/** A progress bar for the batches of one epoch at a time. @category model */
export interface EpochProgress {
  start(epoch: number, epochs: number, batches: number): void;
  update(batchesDone: number, meanLoss: number): void;
  stop(): void;
}

/** A bar on `stream` if it is a TTY and `enabled`, else a no-op. @category constructors */
export function epochProgress(stream: NodeJS.WriteStream, enabled: boolean): EpochProgress {
  if (!enabled || !stream.isTTY) return { start: () => {}, update: () => {}, stop: () => {} };
  const bar = new SingleBar({
    stream,
    format:
      "epoch {epoch}/{epochs} [{bar}] {value}/{total} batches | loss {loss} | {duration_formatted} (eta {eta_formatted})",
    barsize: 30,
    hideCursor: false, // an interrupted run must not leave the terminal without a cursor
    clearOnComplete: true,
    etaBuffer: 20,
  });
  let active = false;
  return {
    start: (epoch, epochs, batches) => {
      bar.start(batches, 0, { epoch, epochs, loss: "-" });
      active = true;
    },
    update: (done, loss) => bar.update(done, { loss: loss.toFixed(4) }),
    stop: () => {
      if (active) bar.stop();
      active = false;
    },
  };
}
