/**
 * Crash-safe writes of a run directory. A whole file is written to `<name>.tmp-<pid>`, fsynced and
 * renamed (atomic: readers see the old file or the new one); a failed write removes its temporary
 * file. Appends (metrics.jsonl) that fail part-way are cut back to where they started. Temporary
 * files whose writer died (a kill -9, a power cut) are removed by the next writer of the directory.
 * Every write goes through `writeAll`, where the fault hooks of `./faults` act.
 */
import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { bytesThatFit, crashesMidWrite, crashNow, enospc, faultPoint } from "./faults";

/** True when process `pid` is running (or exists under another user). @category utils */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Write every byte of `parts` to `fd` (a short write is continued; a full disk throws). */
function writeAll(fd: number, parts: readonly Uint8Array[], path: string, label: string): void {
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  const crashAt = crashesMidWrite(label) ? Math.floor(total / 2) : -1;
  let sent = 0;
  for (const p of parts) {
    let done = 0;
    while (done < p.byteLength) {
      let n = p.byteLength - done;
      if (crashAt >= 0 && sent + n > crashAt) n = crashAt - sent;
      const fit = bytesThatFit(n);
      if (fit > 0) done += writeSync(fd, p, done, fit);
      sent += fit;
      if (sent === crashAt) crashNow();
      if (fit < n) throw enospc(path);
    }
  }
}

const asParts = (data: string | Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] =>
  typeof data === "string" ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;

/**
 * Write `data` to `path` atomically: a temporary file, fsync, rename. On failure the temporary
 * file is removed and `path` is untouched. `label` names the write for the fault hooks.
 * @category utils
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[], label = "file"): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    try {
      writeAll(fd, asParts(data), tmp, label);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    faultPoint(label, "written");
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  faultPoint(label, "renamed");
}

/**
 * Append `text` to `path` (created if missing). If the write fails part-way (a full disk), the
 * file is cut back to its former length, so it never ends in a partial line that this process
 * wrote.
 * @category utils
 */
export function appendDurable(path: string, text: string, label = "append"): void {
  const fd = openSync(path, "a");
  try {
    const before = fstatSync(fd).size;
    try {
      writeAll(fd, [Buffer.from(text)], path, label);
    } catch (e) {
      try {
        ftruncateSync(fd, before);
      } catch {
        // the file keeps a partial last line: readers skip it and a resume cuts it off
      }
      throw e;
    }
  } finally {
    closeSync(fd);
  }
  faultPoint(label, "renamed");
}

/** fsync `path` (a file, or a directory where the file system allows it). @category utils */
export function fsyncPath(path: string): void {
  try {
    const fd = openSync(path, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some file systems cannot fsync a directory: the renames are still atomic
  }
}

const TEMP = /\.tmp-(\d+)$/;

/**
 * Remove the temporary files (`*.tmp-<pid>`) in `dir` whose writer is no longer running; returns
 * their names and total size. Call it while holding the directory's lock.
 * @category utils
 */
export function removeDeadTemps(dir: string): { files: string[]; bytes: number } {
  const files: string[] = [];
  let bytes = 0;
  for (const f of readdirSync(dir)) {
    const m = TEMP.exec(f);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && pidAlive(pid)) continue;
    const path = join(dir, f);
    try {
      bytes += statSync(path).size;
      rmSync(path, { force: true });
      files.push(f);
    } catch {
      // gone meanwhile
    }
  }
  return { files, bytes };
}
