/**
 * One writer per run directory: `run.lock`, held for the whole run. It is created atomically and
 * complete (written to a temporary file, then hard-linked to its name: `link` fails if the name
 * exists, so two writers can never both succeed and a reader never sees a half-written lock) and
 * holds the holder's pid, host name, start time and command line, so that a refusal can name it.
 * It is removed when the run ends, on any exit of the process (an `exit` handler), and when the
 * holder died without removing it (kill -9, power cut) the next writer on the same host sees that
 * its pid is gone and takes the lock over, saying so. A lock held from another host is never taken
 * over (its pid cannot be checked from here): the message says which file to delete.
 *
 * Why not proper-lockfile: it decides staleness by the age of the lock's mtime, refreshed by a
 * timer; a single synchronous training step can outlast any sensible staleness period (minutes
 * for NewtonSummary on the big models), after which a second writer would steal a live lock. A
 * pid check is exact on one host, which is where a run directory is written.
 */
import { closeSync, linkSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { pidAlive } from "./durable";
import type { Io } from "./io";

// model

/** The lock file of a run directory. @category model */
export const LOCK_FILE = "run.lock";

/** What a lock file holds. @category model */
export interface LockHolder {
  readonly pid: number;
  readonly hostname: string;
  /** ISO time the holder took the lock. */
  readonly startedAt: string;
  /** The holder's command line. */
  readonly command: string;
}

/** A held lock; `release` is idempotent. @category model */
export interface RunLock {
  readonly path: string;
  readonly holder: LockHolder;
  release(): void;
}

/** Another process writes the directory (exit status 1). @category errors */
export class RunLockedError extends Error {
  override name = "RunLockedError";
}

// utils

const describe = (h: LockHolder): string =>
  `pid ${h.pid} on ${h.hostname}, since ${h.startedAt}${h.command ? `: ${h.command}` : ""}`;

function readHolder(path: string): LockHolder | null | "missing" {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw e;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    return typeof h.pid === "number" && typeof h.hostname === "string" ? h : null;
  } catch {
    return null;
  }
}

const sameHolder = (a: LockHolder, b: LockHolder) =>
  a.pid === b.pid && a.hostname === b.hostname && a.startedAt === b.startedAt;

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Remove the lock of a dead holder, under a `run.lock.takeover` guard so that two processes that
 * both found it stale do not both remove it (the second would remove the first one's new lock).
 */
function takeOver(path: string, dead: LockHolder): boolean {
  const guard = `${path}.takeover`;
  let fd: number;
  try {
    fd = openSync(guard, "wx");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    const g = readHolder(guard);
    // a takeover whose taker died: clear it so that the next try can proceed
    if (g !== "missing" && (g === null || (g.hostname === hostname() && !pidAlive(g.pid))))
      rmSync(guard, { force: true });
    return false;
  }
  try {
    writeSync(fd, JSON.stringify({ pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() }));
    const now = readHolder(path);
    if (now !== "missing" && now !== null && sameHolder(now, dead)) rmSync(path, { force: true });
    return true;
  } finally {
    closeSync(fd);
    rmSync(guard, { force: true });
  }
}

// acquire

/**
 * Take the lock of run directory `dir` (which must exist), or throw `RunLockedError` naming the
 * holder. A lock left by a dead process of this host is taken over with a note on `io.err`.
 * @category locks
 */
export function acquireRunLock(dir: string, io: Io, command = process.argv.slice(2).join(" ")): RunLock {
  const path = join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), command };
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(me)}\n`);
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        linkSync(tmp, path);
        return held(path, me);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      const h = readHolder(path);
      if (h === "missing") continue;
      if (h === null)
        throw new RunLockedError(
          `${path} exists but is not a hodiff lock: if no hodiff process is writing ${dir}, delete that file and try again`,
        );
      if (h.hostname !== me.hostname)
        throw new RunLockedError(
          `${dir} is in use by another hodiff process (${describe(h)}). A lock of another host cannot be checked from here: if that process is gone, delete ${path}`,
        );
      if (pidAlive(h.pid))
        throw new RunLockedError(
          `${dir} is in use by another hodiff process (${describe(h)}): one run directory has one writer. Wait for it to finish or stop it (it can be resumed), or use another directory`,
        );
      if (takeOver(path, h))
        io.err(`note: took over the lock of ${dir} from ${describe(h)}, which is no longer running`);
      else sleep(20);
    }
    throw new RunLockedError(`could not take the lock ${path}: other processes keep taking it`);
  } finally {
    rmSync(tmp, { force: true });
  }
}

function held(path: string, me: LockHolder): RunLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.removeListener("exit", release);
    const h = readHolder(path);
    if (h !== "missing" && h !== null && sameHolder(h, me)) rmSync(path, { force: true });
  };
  process.on("exit", release);
  return { path, holder: me, release };
}
