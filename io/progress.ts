/** A progress line on stderr with rate and ETA, redrawn in place on a terminal, sparse otherwise. */

export interface ProgressOptions {
  /** units done before this process started (a resumed run): the rate counts only the rest */
  first?: number;
  /** called on every update: a point where the work reported on may be cancelled */
  poll?: () => void;
}

export class Progress {
  #start = performance.now();
  #lastPrint = 0;
  readonly #tty = Deno.stderr.isTerminal();

  constructor(
    readonly label: string,
    readonly total: number,
    readonly unit = "examples",
    readonly quiet = false,
    readonly options: ProgressOptions = {},
  ) {}

  /**
   * Reports `done` of `total`, with an optional `note` (the latest loss); prints at most every
   * 0.5 s on a terminal, every 10 s otherwise.
   */
  update(done: number, note?: string): void {
    this.options.poll?.();
    if (this.quiet) return;
    const now = performance.now();
    const final = done >= this.total;
    if (!final && now - this.#lastPrint < (this.#tty ? 500 : 10_000)) return;
    this.#lastPrint = now;
    const secs = (now - this.#start) / 1000;
    const rate = (done - (this.options.first ?? 0)) / Math.max(secs, 1e-9);
    const eta = rate > 0 ? (this.total - done) / rate : Infinity;
    const line =
      `${this.label}: ${done}/${this.total} ${this.unit}, ${rate.toFixed(rate < 10 ? 2 : 0)}/s, ` +
      (final ? `done in ${fmtSeconds(secs)}` : `ETA ${fmtSeconds(eta)}`) +
      (note ? ` (${note})` : "");
    const out = new TextEncoder().encode(
      this.#tty ? `\r\x1b[2K${line}${final ? "\n" : ""}` : `${line}\n`,
    );
    Deno.stderr.writeSync(out);
  }
}

function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}
