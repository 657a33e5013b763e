/**
 * `points:FILE`: a table of examples from .npy (N × D or N × …), .json (an array of arrays) or
 * .csv (one example per line, optional header). Every row must have the same length.
 */

import { InputError } from "../io/errors.ts";
import { parseNpy } from "../io/npy.ts";

export interface PointSet {
  /** row-major N × D values */
  data: Float64Array;
  n: number;
  shape: number[];
  /** true when every value is an integer (data that needs dequantisation before a density) */
  integerValued: boolean;
}

export async function loadPoints(path: string): Promise<PointSet> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new InputError(
      `points:${path}: cannot read the file (${e instanceof Error ? e.message : e})`,
    );
  }
  const ext = path.toLowerCase().split(".").pop();
  if (ext === "npy") {
    const a = parseNpy(bytes, path);
    if (a.shape.length < 2) {
      throw new InputError(`${path}: expected an N × D array, found shape (${a.shape})`);
    }
    return finish(a.data, a.shape[0], a.shape.slice(1), path);
  }
  const text = new TextDecoder().decode(bytes);
  if (ext === "json") return fromRows(parseJsonRows(text, path), path);
  if (ext === "csv") return fromRows(parseCsvRows(text, path), path);
  throw new InputError(`points:${path}: unknown extension .${ext} (expected .npy, .json or .csv)`);
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

function parseCsvRows(text: string, path: string): number[][] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const rows = lines.map((l) => l.split(",").map((c) => Number(c.trim())));
  // a header row (any non-numeric cell in the first line) is skipped
  if (rows.length > 0 && rows[0].some(Number.isNaN)) rows.shift();
  rows.forEach((r, i) => {
    const bad = r.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new InputError(`${path}: line ${i + 1}, column ${bad + 1} is not a finite number`);
    }
  });
  return rows;
}

function fromRows(rows: number[][], path: string): PointSet {
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
  return finish(data, rows.length, [d], path);
}

function finish(data: Float64Array, n: number, shape: number[], path: string): PointSet {
  if (data.some((v) => !Number.isFinite(v))) {
    throw new InputError(`${path}: contains NaN or infinite values`);
  }
  return { data, n, shape, integerValued: data.every(Number.isInteger) };
}
