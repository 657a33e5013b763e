/**
 * The run directory (`--out`), prepared before any long work: it must be a directory this
 * process can write (the lock file is the probe), it is locked for the run, and a directory
 * that already holds a run is continued only with `--resume` and replaced only with `--force`,
 * which first removes the files a run writes (so metrics of two runs never mix) and nothing
 * else.
 */

import { dirname, join } from "node:path";
import { reason } from "../io/atomic.ts";
import { SNAPSHOT } from "../io/checkpoint.ts";
import { CKPT_FILE, readHeader, STATE_FILE } from "../io/checkpoint_pair.ts";
import { RuntimeFailure, UsageError } from "../io/errors.ts";
import { RunLock } from "./run_lock.ts";

/** The files a training run writes in its directory. */
export const RUN_FILES = [
  CKPT_FILE,
  STATE_FILE,
  "metrics.jsonl",
  "loss.svg",
  "eval.json",
  "samples.png",
];

/** A run's file: one of RUN_FILES, a numbered snapshot, or a temporary file of either. */
export function isRunFile(name: string): boolean {
  const base = name.replace(/\.tmp(-\d+-\d+)?$/, "");
  return RUN_FILES.includes(base) || SNAPSHOT.test(base);
}

export interface RunDirOptions {
  resume: boolean;
  force: boolean;
}

/** Checks, creates and locks `dir`; the caller releases the lock when the run ends. */
export async function openRunDir(
  dir: string,
  o: RunDirOptions,
  notice: (line: string) => void,
): Promise<RunLock> {
  const stat = await Deno.stat(dir).catch(async (e) => {
    if (e instanceof Deno.errors.NotFound) return null;
    const file = e instanceof Deno.errors.NotADirectory ? await fileOnTheWay(dir) : null;
    if (file) throw new UsageError(`--out ${dir}: ${file} is a file, so it cannot hold a run`);
    throw new RuntimeFailure(`cannot write in ${dir} (--out): ${reason(e)}`);
  });
  if (stat && !stat.isDirectory) {
    throw new UsageError(
      `--out ${dir} is a file; --out names a run directory (a new one, or a run to --resume)`,
    );
  }
  if (!stat) {
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (e) {
      throw new RuntimeFailure(`cannot create the run directory ${dir} (--out): ${reason(e)}`);
    }
  }
  const lock = await RunLock.acquire(dir, notice);
  try {
    const found: string[] = [];
    for await (const e of Deno.readDir(dir)) if (isRunFile(e.name)) found.push(e.name);
    found.sort();
    if (found.length > 0 && !o.resume && !o.force) {
      throw new UsageError(
        `--out ${dir} already holds a training run (${await describeRun(dir, found)}); ` +
          "pass --resume to continue it or --force to overwrite it",
      );
    }
    if (found.length > 0 && o.force) {
      for (const name of found) await Deno.remove(join(dir, name));
      notice(`--force: removed the previous run's files from ${dir}: ${found.join(", ")}`);
    }
    return lock;
  } catch (e) {
    lock.release();
    throw e;
  }
}

/** The nearest existing ancestor of `dir` when it is a file (`--out notes.txt/run`). */
async function fileOnTheWay(dir: string): Promise<string | null> {
  for (let p = dirname(dir); p !== dirname(p); p = dirname(p)) {
    const s = await Deno.stat(p).catch(() => null);
    if (s) return s.isFile ? p : null;
  }
  return null;
}

/** "checkpoint at step 2000", or the run's files when there is no readable checkpoint. */
async function describeRun(dir: string, found: string[]): Promise<string> {
  const step = (await readHeader(join(dir, CKPT_FILE)))?.metadata.step;
  return step !== undefined ? `checkpoint at step ${step}` : found.join(", ");
}
