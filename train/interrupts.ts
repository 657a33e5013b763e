/**
 * Ctrl-C (SIGINT, and SIGTERM where it exists) during a training run. A worker thread listens
 * for the signal, so it answers at once even while the main thread is inside a long step, and
 * shares with the main thread a few integers: where the run stands (phase, step) and what was
 * asked (stop after step N, or exit now).
 *
 * - before the first step, and during the final evaluation: exit 130 at once (nothing unsaved;
 *   `--resume` on a run whose steps are done runs only the missing evaluation);
 * - while training: finish the step in progress, save, exit 130;
 * - while saving or writing results: the save goes on (a further Ctrl-C only says so).
 */

export type Phase = "setup" | "training" | "saving" | "stopped" | "evaluating" | "finishing";

const PHASES: Phase[] = ["setup", "training", "saving", "stopped", "evaluating", "finishing"];

/** Slots of the shared Int32Array. */
const PHASE = 0, STEP = 1, STOP_AT = 2, EXIT = 3, SLOTS = 4;

/**
 * What one signal does to the shared state `view`, and the line to print. Runs on the watcher
 * thread; `STEP` is the step in progress while training, so "finishing step N" is the step the
 * run stops after. Every signal asks for a stop (the first fixes its step), so a signal the
 * watcher reads as "while saving" still stops a run that has since moved on to evaluating.
 */
export function onInterrupt(view: Int32Array): { line: string; exit: boolean } {
  const phase = PHASES[Atomics.load(view, PHASE)], step = Atomics.load(view, STEP);
  const first = Atomics.compareExchange(view, STOP_AT, -1, step) === -1;
  const at = Atomics.load(view, STOP_AT);
  const exit = (line: string) => {
    Atomics.store(view, EXIT, 1);
    return { line, exit: true };
  };
  const wait = (line: string) => ({ line, exit: false });
  switch (phase) {
    case "setup":
      return exit("interrupt: stopping before the first step; nothing to save");
    case "evaluating":
      return exit(
        `interrupt: stopping the final evaluation; the checkpoint of step ${step} is saved ` +
          "(run the same command with --resume to finish the evaluation)",
      );
    case "training":
    case "saving":
      if (first) return wait(`interrupt: finishing step ${step}, saving…`);
      return wait(
        phase === "saving"
          ? `interrupt: the save of step ${at} is in progress; please wait`
          : `interrupt: already stopping after step ${at}; please wait for the save`,
      );
    case "stopped":
      return wait(`interrupt: already stopping; the checkpoint of step ${step} is saved`);
    case "finishing":
      return wait("interrupt: writing the run's results; please wait");
  }
}

/** The main thread's side: publishes the run's phase and step, reads what was asked. */
export class RunInterrupts {
  readonly #view: Int32Array;
  #phase: Phase = "setup";

  private constructor(readonly buffer: SharedArrayBuffer, readonly worker: Worker | null) {
    this.#view = new Int32Array(buffer);
    Atomics.store(this.#view, STOP_AT, -1);
  }

  /** Starts the watcher thread; resolves once it listens. */
  static async watch(): Promise<RunInterrupts> {
    const buffer = new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT);
    const worker = new Worker(new URL("./interrupt_watch.ts", import.meta.url), {
      type: "module",
    });
    const interrupts = new RunInterrupts(buffer, worker);
    await new Promise<void>((resolve, reject) => {
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`the Ctrl-C watcher did not start: ${e.message}`));
      };
      worker.onmessage = (e) => {
        if (e.data === "ready") resolve();
        else interrupts.exitIfAsked();
      };
      worker.postMessage(buffer);
    });
    return interrupts;
  }

  /** No watcher: nothing is ever asked (library use and tests; signals keep their default). */
  static inert(): RunInterrupts {
    return new RunInterrupts(new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT), null);
  }

  /** The run enters `phase` at `step`; a stop asked before the evaluation exits here. */
  enter(phase: Phase, step: number): void {
    Atomics.store(this.#view, STEP, step);
    Atomics.store(this.#view, PHASE, PHASES.indexOf(phase));
    this.#phase = phase;
    this.exitIfAsked();
  }

  /**
   * Publishes `next` as the step in progress, then says whether the run must stop instead of
   * taking it (a stop was asked after step `next − 1` or earlier). Publishing first means a
   * signal arriving at any moment names the step the run really stops after.
   */
  stopBefore(next: number): boolean {
    Atomics.store(this.#view, STEP, next);
    const at = Atomics.load(this.#view, STOP_AT);
    return at >= 0 && next - 1 >= at;
  }

  /** Whether a stop was asked (the run saves and exits 130 instead of evaluating). */
  get stopRequested(): boolean {
    return Atomics.load(this.#view, STOP_AT) >= 0;
  }

  /**
   * Exits 130 if a signal asked for it: before the first step or during the evaluation, where
   * nothing is left to save (the run's lock goes with the unload event).
   */
  exitIfAsked(): void {
    const now = this.#phase === "setup" || this.#phase === "evaluating";
    if (Atomics.load(this.#view, EXIT) === 1 || (now && this.stopRequested)) Deno.exit(130);
  }

  dispose(): void {
    this.worker?.terminate();
  }
}
