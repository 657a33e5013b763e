/**
 * The `gmm:FILE.json` mixture file (DESIGN.md): p(x) = Σ_k w_k N(x; μ_k, Σ_k), given as
 * `{"weights":[…], "means":[[…]], "covs":[[[…]]]}` or with `"stds":[…]` (Σ_k = c_k² I)
 * instead of covs, an optional `"shape":[C,H,W]` with C·H·W = D, and optional `"classes"`: each
 * component's class (0-based, every class 0 … C−1 used), or `"components"` for one class per
 * component; p(x | c) is then the mixture of class c's components. Every defect is an
 * `InputError` (exit 3) naming the file, the field with its index, what was expected and what
 * was found.
 */

import { sizeOf } from "../compute/mod.ts";
import { InputError } from "../io/errors.ts";
import { expandHome } from "../io/home_path.ts";
import { symmetricEigen } from "./symmetric_eigen.ts";

export interface GmmSpec {
  /** The file name (or other source) errors and reports refer to. */
  source: string;
  weights: number[];
  /** K means of length D. */
  means: number[][];
  /** K symmetric positive-definite D×D covariances; exactly one of covs and stds is present. */
  covs?: number[][][];
  /** K standard deviations c_k of isotropic components Σ_k = c_k² I. */
  stds?: number[];
  /** Shape of one example; [D] when the file gives none. */
  shape: number[];
  /** Each component's class (a labelled mixture), or absent. */
  classes?: number[];
}

const FIELDS = ["weights", "means", "covs", "stds", "shape", "classes"];
/** Σ w_k may miss 1 by this much (weights printed with six or more decimals). */
const WEIGHT_SUM_TOL = 1e-6;
/** |Σ_ij − Σ_ji| allowed, relative to the largest |Σ_ij| (printing round-off, not asymmetry). */
const SYMMETRY_RTOL = 1e-9;
/** Below λ_max times this, rounding cannot tell a positive eigenvalue from zero. */
const SINGULAR_RTOL = 1e-12;

/** Reads and validates a mixture file (`~/` expanded); unreadable files are input errors too. */
export async function loadGmmSpec(file: string): Promise<GmmSpec> {
  const path = expandHome(file);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new InputError(`${path}: cannot read the mixture file (${(e as Error).message})`);
  }
  return parseGmmSpec(text, path);
}

/** Parses and validates the JSON text of a mixture file; `sourceName` appears in errors. */
export function parseGmmSpec(text: string, sourceName: string): GmmSpec {
  const fail = (field: string, expected: string, found: string): never => {
    throw new InputError(`${sourceName}: field "${field}": expected ${expected}, found ${found}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${sourceName}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new InputError(
      `${sourceName}: expected a JSON object with weights, means and covs or stds, found ${
        describe(doc)
      }`,
    );
  }
  const obj = doc as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    // A misspelt "std" or "cov" would otherwise surface as a confusing "missing" error.
    if (!FIELDS.includes(key)) {
      fail(key, `only the fields ${FIELDS.join(", ")}`, "an unknown field");
    }
  }
  const numbers = (v: unknown, field: string): number[] => {
    if (!Array.isArray(v) || v.length === 0) {
      fail(field, "a non-empty array of numbers", describe(v));
    }
    (v as unknown[]).forEach((x, i) => {
      if (typeof x !== "number" || !Number.isFinite(x)) {
        fail(`${field}[${i}]`, "a finite number", describe(x));
      }
    });
    return v as number[];
  };

  const weights = numbers(obj.weights, "weights");
  const K = weights.length;
  weights.forEach((w, k) => {
    if (!(w > 0)) fail(`weights[${k}]`, "a positive weight", String(w));
  });
  const total = weights.reduce((s, w) => s + w, 0);
  if (Math.abs(total - 1) > WEIGHT_SUM_TOL) {
    fail("weights", `weights summing to 1 (within ${WEIGHT_SUM_TOL})`, `a sum of ${total}`);
  }

  if (!Array.isArray(obj.means)) {
    fail("means", `an array of ${K} means (one per weight)`, describe(obj.means));
  }
  const meansIn = obj.means as unknown[];
  if (meansIn.length !== K) fail("means", `${K} means (one per weight)`, `${meansIn.length} means`);
  const means = meansIn.map((m, k) => numbers(m, `means[${k}]`));
  const D = means[0].length;
  means.forEach((m, k) => {
    if (m.length !== D) fail(`means[${k}]`, `length ${D} (as means[0])`, `length ${m.length}`);
  });

  let shape = [D];
  if (obj.shape !== undefined) {
    shape = numbers(obj.shape, "shape");
    shape.forEach((s, i) => {
      if (!(Number.isInteger(s) && s > 0)) fail(`shape[${i}]`, "a positive integer", String(s));
    });
    const size = sizeOf(shape);
    if (size !== D) {
      fail("shape", `dimensions whose product is D = ${D}`, `[${shape}] (product ${size})`);
    }
  }

  const classes = obj.classes === undefined
    ? {}
    : { classes: componentClasses(obj.classes, K, fail) };
  if ((obj.covs === undefined) === (obj.stds === undefined)) {
    const found = obj.covs === undefined ? "neither" : "both";
    throw new InputError(
      `${sourceName}: fields "covs" and "stds": expected exactly one of them, found ${found}`,
    );
  }
  if (obj.stds !== undefined) {
    const stds = numbers(obj.stds, "stds");
    if (stds.length !== K) {
      fail("stds", `${K} standard deviations (one per weight)`, `${stds.length} values`);
    }
    stds.forEach((s, k) => {
      if (!(s > 0)) fail(`stds[${k}]`, "a positive standard deviation", String(s));
    });
    return { source: sourceName, weights, means, stds, shape, ...classes };
  }
  if (!Array.isArray(obj.covs)) {
    fail("covs", `an array of ${K} covariance matrices`, describe(obj.covs));
  }
  const covsIn = obj.covs as unknown[];
  if (covsIn.length !== K) {
    fail("covs", `${K} covariance matrices (one per weight)`, `${covsIn.length} matrices`);
  }
  const covs = covsIn.map((c, k) => checkCov(c, k, D, fail));
  return { source: sourceName, weights, means, covs, shape, ...classes };
}

/** `"classes"`: K class indices using every class 0 … C−1, or "components" (class k = k). */
function componentClasses(
  v: unknown,
  K: number,
  fail: (field: string, expected: string, found: string) => never,
): number[] {
  if (v === "components") return Array.from({ length: K }, (_, k) => k);
  const expected = `"components" or ${K} class indices (one per weight)`;
  if (!Array.isArray(v) || v.length !== K) fail("classes", expected, describe(v));
  const classes = v as unknown[];
  classes.forEach((c, k) => {
    if (!(typeof c === "number" && Number.isInteger(c) && c >= 0 && c < K)) {
      fail(`classes[${k}]`, `an integer in [0, ${K})`, describe(c));
    }
  });
  const count = Math.max(...(classes as number[])) + 1;
  for (let c = 0; c < count; c++) {
    if (!classes.includes(c)) fail("classes", `every class 0 … ${count - 1} used`, `no class ${c}`);
  }
  return classes as number[];
}

/** A D×D symmetric positive-definite matrix, returned exactly symmetrised. */
function checkCov(
  c: unknown,
  k: number,
  D: number,
  fail: (field: string, expected: string, found: string) => never,
): number[][] {
  const field = `covs[${k}]`;
  if (!Array.isArray(c) || c.length !== D) {
    fail(field, `a ${D}×${D} matrix (${D} rows)`, describe(c));
  }
  const rows = (c as unknown[]).map((row, i) => {
    if (!Array.isArray(row) || row.length !== D) {
      fail(`${field}[${i}]`, `a row of ${D} numbers`, describe(row));
    }
    (row as unknown[]).forEach((v, j) => {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        fail(`${field}[${i}][${j}]`, "a finite number", describe(v));
      }
    });
    return row as number[];
  });
  const scale = Math.max(...rows.flat().map(Math.abs));
  for (let i = 0; i < D; i++) {
    for (let j = i + 1; j < D; j++) {
      if (Math.abs(rows[i][j] - rows[j][i]) > SYMMETRY_RTOL * scale) {
        fail(
          `${field}[${i}][${j}]`,
          `a symmetric matrix (equal to ${field}[${j}][${i}] = ${rows[j][i]})`,
          String(rows[i][j]),
        );
      }
    }
  }
  const sym = rows.map((row, i) => row.map((v, j) => (v + rows[j][i]) / 2));
  const { values } = symmetricEigen(sym);
  const lo = values[0], hi = values[D - 1];
  if (!(lo > SINGULAR_RTOL * hi)) {
    fail(
      field,
      "a positive-definite matrix",
      `smallest eigenvalue ${round6(lo)} (largest ${round6(hi)})`,
    );
  }
  return sym;
}

/** Six significant digits: eigenvalues carry rounding noise not worth printing. */
const round6 = (v: number) => Number(v.toPrecision(6));

/** A short description of a JSON value for "found …". */
function describe(v: unknown): string {
  if (v === undefined) return "nothing (missing)";
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  return String(v);
}
