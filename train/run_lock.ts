/**
 * The lock a training run holds on its directory: `train.lock`, holding the run's pid, with an
 * advisory file lock (flock) on it for as long as the run lives. Two runs writing one directory
 * would interleave checkpoints and metrics, so a second run is refused at once. The operating
 * system drops the file lock when its process dies however it dies, so a lock file nobody
 * holds was left by a run that was killed (SIGKILL, a power cut): it is stale and taken over
 * with a notice. The run removes the file on every way out it controls: a return, an error,
 * `Deno.exit` (the unload event).
 */

import { join } from "node:path";
import { reason } from "../io/atomic.ts";
import { RuntimeFailure } from "../io/errors.ts";

export const LOCK_FILE = "train.lock";

export class RunLock {
  #file: Deno.FsFile | null;
  readonly #onUnload = () => this.release();

  private constructor(readonly path: string, file: Deno.FsFile) {
    this.#file = file;
    globalThis.addEventListener("unload", this.#onUnload);
  }

  /** Takes the lock of `dir` (which must exist); the lock file doubles as a write probe. */
  static async acquire(dir: string, notice: (line: string) => void): Promise<RunLock> {
    const path = join(dir, LOCK_FILE);
    for (;;) {
      let file: Deno.FsFile;
      try {
        file = await Deno.open(path, { read: true, write: true, create: true });
      } catch (e) {
        throw new RuntimeFailure(`cannot write in ${dir} (--out): ${reason(e)}`);
      }
      if (!(await file.tryLock(true))) {
        file.close();
        const pid = await holderPid(path);
        throw new RuntimeFailure(
          `${path} is held by ${pid === null ? "another process" : `pid ${pid}`}: another ` +
            `train run is writing ${dir}; wait for it to finish or choose another --out`,
        );
      }
      // the previous holder may have removed the file between our open and our lock
      if (!(await sameFile(file, path))) {
        file.close();
        continue;
      }
      const stale = await holderPid(path);
      if (stale !== null) {
        notice(
          `notice: taking over the stale lock ${path} of pid ${stale}, which is no longer running`,
        );
      }
      try {
        const body = JSON.stringify({ pid: Deno.pid, started: new Date().toISOString() });
        await file.truncate(0);
        await file.write(new TextEncoder().encode(body + "\n"));
      } catch (e) {
        file.close();
        await Deno.remove(path).catch(() => {});
        throw new RuntimeFailure(`cannot write in ${dir} (--out): ${reason(e)}`);
      }
      return new RunLock(path, file);
    }
  }

  /** Removes the lock file and drops the file lock; safe to call more than once. */
  release(): void {
    const file = this.#file;
    if (!file) return;
    this.#file = null;
    globalThis.removeEventListener("unload", this.#onUnload);
    try {
      const ours = Deno.statSync(this.path).ino === file.statSync().ino;
      if (ours) Deno.removeSync(this.path);
    } catch {
      // already gone: nothing of ours to remove
    }
    file.close();
  }
}

/** Whether `path` still names the file `file` has open (always, where there are no inodes). */
async function sameFile(file: Deno.FsFile, path: string): Promise<boolean> {
  const now = await Deno.stat(path).catch(() => null);
  return now !== null && now.ino === (await file.stat()).ino;
}

/** The pid recorded in a lock file; null when there is none (empty, being written, garbled). */
async function holderPid(path: string): Promise<number | null> {
  try {
    const pid = JSON.parse(await Deno.readTextFile(path)).pid;
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
