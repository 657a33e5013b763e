/**
 * `metrics.jsonl`, one `{"step", "loss", "lr"}` line per logged step. Lines are held in memory
 * until the checkpoint that covers their step is saved, then appended: the file never runs
 * ahead of the checkpoint, so a crash, a Ctrl-C or a failed save (a full disk) leaves no line
 * that a resumed run would write a second time. On `--resume`, lines past the checkpoint's
 * step (from an older version of this program, or a torn last line) are dropped first.
 */

import { diskWriter, type FileWriter, reason, writeFileAtomic } from "../io/atomic.ts";
import { RuntimeFailure } from "../io/errors.ts";

export interface MetricsLine {
  step: number;
  loss: number;
  lr: number;
}

export class MetricsLog {
  #pending: MetricsLine[] = [];

  private constructor(
    readonly path: string,
    /** every logged step of the run so far, saved or pending (the loss plot's points) */
    readonly history: MetricsLine[],
    readonly writer: FileWriter,
  ) {}

  /**
   * A fresh log (`resumeAt` null), or the log of a run resumed at step `resumeAt`: its lines up
   * to that step are kept (for the plot and the final loss), later ones dropped with a notice.
   */
  static async open(
    path: string,
    resumeAt: number | null,
    notice: (line: string) => void,
    writer: FileWriter = diskWriter,
  ): Promise<MetricsLog> {
    if (resumeAt === null) return new MetricsLog(path, [], writer);
    const text = await Deno.readTextFile(path).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return "";
      throw new RuntimeFailure(`cannot read ${path}: ${reason(e)}`);
    });
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    const kept = lines.map(parseLine).filter((m): m is MetricsLine =>
      m !== null && m.step <= resumeAt
    );
    if (kept.length < lines.length || (text !== "" && !text.endsWith("\n"))) {
      await writeFileAtomic(path, kept.map((m) => JSON.stringify(m) + "\n").join(""), writer);
      notice(
        `notice: dropped ${lines.length - kept.length} line(s) of ${path} past the ` +
          `checkpoint's step ${resumeAt}`,
      );
    }
    return new MetricsLog(path, kept, writer);
  }

  /** Holds the line of a logged step until a checkpoint covers it. */
  record(m: MetricsLine): void {
    this.#pending.push(m);
    this.history.push(m);
  }

  /** Appends the held lines up to `savedStep`, the step of the checkpoint just saved. */
  async commit(savedStep: number): Promise<void> {
    const due = this.#pending.filter((m) => m.step <= savedStep);
    if (due.length === 0) return;
    const size = await Deno.stat(this.path).then((s) => s.size, () => 0);
    try {
      await this.writer.append(this.path, due.map((m) => JSON.stringify(m) + "\n").join(""));
    } catch (e) {
      // no torn line: cut the file back to what it held
      await Deno.truncate(this.path, size).catch(() => {});
      throw new RuntimeFailure(`cannot write ${this.path}: ${reason(e)}`);
    }
    this.#pending = this.#pending.filter((m) => m.step > savedStep);
  }
}

function parseLine(line: string): MetricsLine | null {
  try {
    const m = JSON.parse(line);
    return Number.isSafeInteger(m?.step) && typeof m.loss === "number" ? m : null;
  } catch {
    return null;
  }
}
