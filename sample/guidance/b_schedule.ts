/**
 * A user schedule b_t for general density guidance (docs/density_guidance.md §1): the extra
 * rate d log p_t(x_t)/dt, in nats per unit of the process's time, that the guided flow adds to
 * the PF-ODE's own. Sampling runs from T down to t_min, so log p_0 moves by
 * ∫_T^{t_min} b_t dt = −∫_{t_min}^T b_t dt against the PF-ODE: a negative b raises log p_0.
 *
 * Given as an expression in t (`schedule_expr.ts`, e.g. "-50*t*(1-t)") or as a table of
 * (t, b) pairs in a .json or .csv file, interpolated linearly; a table must cover
 * [t_min, T] — nothing is extrapolated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const b = expressionSchedule("-6*t");
 * // −∫_0^1 (−6t) dt = 3 nats of rise
 * assert.ok(Math.abs(b.predictedShift(0, 1) - 3) < 1e-9);
 * const table = tableSchedule([[0, 0], [1, -6]], "ramp");
 * assert.ok(Math.abs(table.predictedShift(0, 1) - 3) < 1e-12);
 * ```
 */

import { InputError, UsageError } from "../../io/errors.ts";
import { parseScheduleExpr, type ScheduleFn } from "./schedule_expr.ts";

export interface BSchedule {
  /** "expression" or "table" */
  kind: "expression" | "table";
  /** the expression's text or the table's file */
  source: string;
  /** b_t, nats per unit time */
  at: ScheduleFn;
  /** −∫_{tMin}^{tMax} b_t dt: the predicted shift of log p_{tMin} against the PF-ODE */
  predictedShift(tMin: number, tMax: number): number;
}

const FLAG = "--b-schedule";

/** Intervals of the composite Simpson rule for an expression's integral (even). */
const SIMPSON_INTERVALS = 1 << 16;

/** b_t given by an expression in t. */
export function expressionSchedule(text: string): BSchedule {
  const at = parseScheduleExpr(text, FLAG);
  return {
    kind: "expression",
    source: text,
    at,
    predictedShift: (tMin, tMax) => -simpson(at, tMin, tMax),
  };
}

/** b_t interpolated linearly between (t, b) rows sorted by strictly increasing t. */
export function tableSchedule(
  rows: readonly (readonly [number, number])[],
  source: string,
): BSchedule {
  const ts = rows.map((r) => r[0]), bs = rows.map((r) => r[1]);
  const at = (t: number): number => {
    if (!(t >= ts[0] && t <= ts[ts.length - 1])) return NaN;
    let lo = 0, hi = ts.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (ts[mid] <= t) lo = mid;
      else hi = mid;
    }
    if (hi === lo) return bs[lo];
    const w = (t - ts[lo]) / (ts[hi] - ts[lo]);
    return bs[lo] + w * (bs[hi] - bs[lo]);
  };
  // The integral of the interpolant is exact: the trapezoid rule on the breakpoints inside.
  const integral = (a: number, b: number): number => {
    const knots = [a, ...ts.filter((t) => t > a && t < b), b];
    let s = 0;
    for (let i = 0; i + 1 < knots.length; i++) {
      s += 0.5 * (knots[i + 1] - knots[i]) * (at(knots[i]) + at(knots[i + 1]));
    }
    return s;
  };
  return { kind: "table", source, at, predictedShift: (tMin, tMax) => -integral(tMin, tMax) };
}

/** Rows of a table file's text: JSON [[t, b], …] or [{"t": …, "b": …}, …], or CSV lines t,b. */
export function parseScheduleTable(text: string, path: string): [number, number][] {
  const bad = (what: string): never => {
    throw new InputError(`${FLAG} ${path}: ${what}`);
  };
  let rows: [number, number][];
  if (path.toLowerCase().endsWith(".json")) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      return bad(`not valid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(doc)) return bad("expected a JSON array of [t, b] pairs");
    rows = doc.map((r, i) => {
      const pair = Array.isArray(r) ? r : (r && typeof r === "object" ? [r.t, r.b] : null);
      if (!pair || pair.length !== 2 || !pair.every((v) => typeof v === "number")) {
        return bad(
          `entry ${i} should be [t, b] or {"t": …, "b": …} with numbers, found ${
            JSON.stringify(r)
          }`,
        );
      }
      return [pair[0], pair[1]] as [number, number];
    });
  } else {
    rows = [];
    const lines = text.split(/\r?\n/);
    lines.forEach((line, i) => {
      const content = line.replace(/#.*/, "").trim();
      if (content === "") return;
      const cells = content.split(/\s*[,;\t]\s*|\s+/);
      const nums = cells.map(Number);
      if (cells.length !== 2 || !nums.every(Number.isFinite)) {
        // a header row naming the columns is allowed as the first content line
        if (rows.length === 0 && cells.length === 2 && /^[A-Za-z_]/.test(cells[0])) return;
        bad(`line ${i + 1} should be two numbers "t,b", found "${line}"`);
      }
      rows.push([nums[0], nums[1]]);
    });
  }
  if (rows.length < 2) return bad(`a table needs at least 2 rows (t, b), found ${rows.length}`);
  rows.forEach(([t, b], i) => {
    if (!Number.isFinite(t) || !Number.isFinite(b)) bad(`row ${i + 1} is not finite: ${t}, ${b}`);
    if (i > 0 && !(t > rows[i - 1][0])) {
      bad(`times must increase strictly, but row ${i + 1} has t = ${t} after ${rows[i - 1][0]}`);
    }
  });
  return rows;
}

/**
 * The schedule `--b-schedule VALUE` names: a table when VALUE ends in .json or .csv (read
 * from disk; it must cover [tMin, tMax]), otherwise an expression in t.
 */
export async function loadBSchedule(
  value: string,
  tMin: number,
  tMax: number,
): Promise<BSchedule> {
  if (!/\.(json|csv)$/i.test(value.trim())) {
    let s: BSchedule;
    try {
      s = expressionSchedule(value);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      throw new UsageError(`${e.message}; a table file must end in .json or .csv`);
    }
    checkScheduleFinite(s, tMin, tMax);
    return s;
  }
  const path = value.trim();
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new InputError(`${FLAG} ${path}: cannot read the table (${(e as Error).message})`);
  }
  const rows = parseScheduleTable(text, path);
  const first = rows[0][0], last = rows[rows.length - 1][0];
  if (first > tMin || last < tMax) {
    throw new UsageError(
      `${FLAG} ${path}: the table covers t in [${first}, ${last}] but sampling needs ` +
        `[t_min, T] = [${tMin}, ${tMax}]; add rows (nothing is extrapolated)`,
    );
  }
  return tableSchedule(rows, path);
}

/** The schedule's values on [tMin, tMax] must be finite (a log or a division may not be). */
export function checkScheduleFinite(s: BSchedule, tMin: number, tMax: number): void {
  const n = 1000;
  for (let i = 0; i <= n; i++) {
    const t = tMin + ((tMax - tMin) * i) / n;
    const v = s.at(t);
    if (!Number.isFinite(v)) {
      throw new UsageError(
        `${FLAG} ${s.source}: b(${t}) = ${v}; b must be finite on [${tMin}, ${tMax}]`,
      );
    }
  }
}

/**
 * ∫_a^b f by the composite Simpson rule on 2^16 intervals: an expression costs nanoseconds to
 * evaluate, and h = (b − a)/65 536 resolves even a rate like 1/σ_t² near t_min = 1e-3 (the
 * rule's error is O(h⁴ f⁗), under 1e-10 of the integral for every schedule in the tests).
 */
function simpson(f: ScheduleFn, a: number, b: number): number {
  const n = SIMPSON_INTERVALS, h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}
