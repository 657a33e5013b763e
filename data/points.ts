/**
 * `points:FILE[,discrete]`: a table of examples from .npy (N × D or N × …), .json (an array of
 * arrays) or .csv (one example per line, optional header). Every row must have the same length.
 *
 * Whole numbers alone do not make data discrete (a float table may hold them by chance): the
 * data are integer levels, dequantised before a density is measured, only when declared so — by
 * an integer .npy dtype (`<i4`, `|u1`, …) or by the `,discrete` suffix for any format.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeNpyF32 } from "../io/npy_write.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/counts.csv`, "a,b\n0,3\n2,1\n");
 * await Deno.writeFile(`${dir}/xy.npy`, encodeNpyF32([0.5, -1, 2, 0.25], [2, 2]));
 * const levels = await loadPoints(`${dir}/counts.csv,discrete`);
 * const table = await loadPoints(`${dir}/xy.npy`); // a float .npy: continuous
 * assert.deepEqual([levels.n, levels.shape, levels.discrete], [2, [2], true]);
 * assert.deepEqual([table.data, table.discrete], [Float64Array.of(0.5, -1, 2, 0.25), false]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */

import { sizeOf } from "../compute/mod.ts";
import { InputError, UsageError } from "../io/errors.ts";
import { expandHome } from "../io/home_path.ts";
import { parseNpy } from "../io/npy.ts";

export interface PointSet {
  /** row-major N × D values */
  data: Float64Array;
  n: number;
  shape: number[];
  /** declared integer levels (an integer .npy or `,discrete`): dequantised before a density */
  discrete: boolean;
}

/** The suffix that declares a table's values to be integer levels. */
export const DISCRETE_SUFFIX = ",discrete";

/** `FILE` or `FILE,discrete` (the part of a `points:` spec after the colon). */
export async function loadPoints(spec: string): Promise<PointSet> {
  const declared = spec.endsWith(DISCRETE_SUFFIX);
  const path = expandHome(declared ? spec.slice(0, -DISCRETE_SUFFIX.length) : spec);
  if (path === "") throw new UsageError(`points:${spec}: expected points:FILE[${DISCRETE_SUFFIX}]`);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new InputError(
      `points:${path}: cannot read the file (${e instanceof Error ? e.message : e})`,
    );
  }
  const ext = path.toLowerCase().split(".").pop();
  let table: { data: Float64Array; n: number; shape: number[] };
  let integerDtype = false;
  if (ext === "npy") {
    const a = parseNpy(bytes, path);
    if (a.shape.length < 2) {
      throw new InputError(`${path}: expected an N × D array, found shape (${a.shape})`);
    }
    table = { data: a.data, n: a.shape[0], shape: a.shape.slice(1) };
    integerDtype = /^[<>|=]?[iu]\d$/.test(a.dtype);
  } else if (ext === "json" || ext === "csv") {
    const text = new TextDecoder().decode(bytes);
    table = fromRows(ext === "json" ? parseJsonRows(text, path) : parseCsvRows(text, path), path);
  } else {
    throw new InputError(
      `points:${path}: unknown extension .${ext} (expected .npy, .json or .csv)`,
    );
  }
  const discrete = declared || integerDtype;
  checkValues(table.data, table.shape, path, discrete);
  return { ...table, discrete };
}

function parseJsonRows(text: string, path: string): number[][] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path}: malformed JSON (${e instanceof Error ? e.message : e})`);
  }
  if (!Array.isArray(v) || v.some((r) => !Array.isArray(r))) {
    throw new InputError(`${path}: expected an array of arrays of numbers`);
  }
  return v as number[][];
}

/**
 * One row per non-blank line; a first line with a non-numeric cell is a header. An empty cell
 * is an error, not a zero: `Number("")` would silently read it as 0.
 */
function parseCsvRows(text: string, path: string): number[][] {
  const lines = text.split(/\r?\n/).map((l, i) => ({ cells: l.split(","), line: i + 1 }))
    .filter((l) => l.cells.join("").trim() !== "");
  const isNumber = (c: string) => c.trim() !== "" && Number.isFinite(Number(c.trim()));
  if (lines.length > 0 && lines[0].cells.some((c) => c.trim() !== "" && !isNumber(c))) {
    lines.shift();
  }
  return lines.map(({ cells, line }, row) =>
    cells.map((c, j) => {
      const where = `line ${line} (data row ${row + 1}), column ${j + 1}`;
      if (c.trim() === "") throw new InputError(`${path}: ${where} is empty; expected a number`);
      if (!isNumber(c)) {
        throw new InputError(`${path}: ${where} is not a finite number (${JSON.stringify(c)})`);
      }
      return Number(c.trim());
    })
  );
}

function fromRows(rows: number[][], path: string) {
  if (rows.length === 0) throw new InputError(`${path}: no examples found`);
  const d = rows[0].length;
  const data = new Float64Array(rows.length * d);
  rows.forEach((r, i) => {
    if (r.length !== d) {
      throw new InputError(`${path}: row ${i} has ${r.length} values, row 0 has ${d}`);
    }
    r.forEach((v, j) => {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new InputError(
          `${path}: row ${i}, column ${j} is not a finite number (${JSON.stringify(v)})`,
        );
      }
      data[i * d + j] = v;
    });
  });
  return { data, n: rows.length, shape: [d] };
}

/** Finite everywhere; declared levels must also be whole numbers. */
function checkValues(data: Float64Array, shape: number[], path: string, discrete: boolean) {
  const d = sizeOf(shape);
  const at = (k: number) => `row ${Math.floor(k / d)}, column ${k % d}`;
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new InputError(`${path}: contains NaN or infinite values (${at(bad)}: ${data[bad]})`);
  }
  const fraction = discrete ? data.findIndex((v) => !Number.isInteger(v)) : -1;
  if (fraction >= 0) {
    throw new InputError(
      `${path}: declared discrete, but ${at(fraction)} holds ${
        data[fraction]
      }; discrete data are integer levels`,
    );
  }
}
