/**
 * Per-adapter kernel tuning. The first time a kernel meets a shape, the backend runs it with
 * its default variant and asks for a trial; at the next readback (the first point where waiting
 * costs nothing extra) every pending trial times each candidate variant on that shape and the
 * fastest is kept — in memory and in a JSON file on disk keyed by adapter, so later runs start
 * tuned. A different adapter (or a new kernel version) finds no entries and tunes afresh.
 *
 * Disabled by `--no-autotune` (which sets the backend's tuner to null) or by
 * LIKELIHOOD_AUTOTUNE=0; LIKELIHOOD_AUTOTUNE_CACHE names the cache file (default
 * $XDG_CACHE_HOME/likelihood/autotune.json, else ~/.cache/likelihood/autotune.json).
 */

/** Bump when a kernel's variants change, so cached choices made for the old ones are dropped. */
export const AUTOTUNE_VERSION = 2;

/** How one shape's candidates are timed: milliseconds of one run of a candidate, synced. */
export interface Trial {
  candidates: readonly string[];
  time(candidate: string): Promise<number>;
}

interface CacheFile {
  version: number;
  /** adapter key → (kernel and shape key → chosen variant) */
  adapters: Record<string, Record<string, string>>;
}

/** Timed runs per candidate after one warm-up (the minimum is kept: noise only adds time). */
const RUNS = 3;

export class Autotuner {
  #choices: Record<string, string>;
  #pending = new Map<string, Trial>();
  #warned = false;

  constructor(readonly adapterKey: string, readonly path: string | null) {
    this.#choices = { ...(readCache(path)?.adapters[adapterKey] ?? {}) };
  }

  /** The cached choice for a kernel and shape, if one was tuned on this adapter. */
  choice(key: string): string | undefined {
    return this.#choices[key];
  }

  /**
   * The cached choice for `key` when it is one of `eligible`; otherwise undefined, so the
   * caller runs its default, and an untuned key queues the trial that `trial` builds (once).
   */
  pick(key: string, eligible: readonly string[], trial: () => Trial): string | undefined {
    const tuned = this.#choices[key];
    if (tuned !== undefined) return eligible.includes(tuned) ? tuned : undefined;
    if (!this.#pending.has(key)) this.#pending.set(key, trial());
    return undefined;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Runs the queued trials, records their winners and writes the cache file. */
  async run(): Promise<void> {
    if (this.#pending.size === 0) return;
    const trials = [...this.#pending];
    this.#pending.clear();
    for (const [key, trial] of trials) {
      let best = "", bestMs = Infinity;
      for (const c of trial.candidates) {
        await trial.time(c); // warm-up: pipeline compilation, first-touch of buffers
        let ms = Infinity;
        for (let i = 0; i < RUNS; i++) ms = Math.min(ms, await trial.time(c));
        if (ms < bestMs) [best, bestMs] = [c, ms];
      }
      this.#choices[key] = best;
    }
    this.#save();
  }

  /** Merges this adapter's choices into the file, atomically (temporary file, then rename). */
  #save(): void {
    if (!this.path) return;
    try {
      const file = readCache(this.path) ?? { version: AUTOTUNE_VERSION, adapters: {} };
      file.adapters[this.adapterKey] = { ...file.adapters[this.adapterKey], ...this.#choices };
      const dir = this.path.slice(0, Math.max(0, this.path.lastIndexOf("/")));
      if (dir) Deno.mkdirSync(dir, { recursive: true });
      const tmp = `${this.path}.${Deno.pid}.tmp`;
      Deno.writeTextFileSync(tmp, JSON.stringify(file, null, 1) + "\n");
      Deno.renameSync(tmp, this.path);
    } catch (e) {
      if (!this.#warned) {
        console.error(
          `autotune: cannot write ${this.path} (${(e as Error).message}); choices kept in memory`,
        );
      }
      this.#warned = true;
    }
  }
}

/** The cache's contents, or null when absent, unreadable, malformed or of another version. */
function readCache(path: string | null): CacheFile | null {
  if (!path) return null;
  try {
    const file = JSON.parse(Deno.readTextFileSync(path)) as CacheFile;
    if (file?.version !== AUTOTUNE_VERSION || typeof file.adapters !== "object") return null;
    return file;
  } catch {
    return null;
  }
}

/** The tuner the environment asks for: null when LIKELIHOOD_AUTOTUNE=0 or env is unreadable. */
export function autotunerFromEnv(adapterKey: string): Autotuner | null {
  try {
    if (Deno.env.get("LIKELIHOOD_AUTOTUNE") === "0") return null;
    const explicit = Deno.env.get("LIKELIHOOD_AUTOTUNE_CACHE");
    const base = Deno.env.get("XDG_CACHE_HOME") ??
      (Deno.env.get("HOME") ? `${Deno.env.get("HOME")}/.cache` : null);
    const path = explicit ?? (base ? `${base}/likelihood/autotune.json` : null);
    return new Autotuner(adapterKey, path);
  } catch {
    return null; // no --allow-env: run untuned rather than fail
  }
}
