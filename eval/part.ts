/**
 * The partial result of one shard (`eval-nll --shard i/n --out PART.json`): its format, and its
 * validation when `eval-nll merge` reads it back. A part records how it was computed (backend,
 * adapter, dtype, kernel variants) beside its settings; parts that differ in either are not
 * merged, since their examples would not be the ones an unsharded run computes.
 */

import { InputError } from "../io/errors.ts";
import type { ComputeRecord } from "../compute/batch_invariance.ts";
import type { ExampleResult } from "./nll.ts";
import type { BoundExample, BoundSettings, EvalSettings } from "./summary.ts";

export const PART_FORMAT = "likelihood-eval-part/2";

export interface PartialResult {
  format: typeof PART_FORMAT;
  shard: { index: number; count: number };
  settings: EvalSettings;
  compute: ComputeRecord;
  examples: ExampleResult[];
  bound?: BoundSettings & { examples: BoundExample[] };
}

type Obj = Record<string, unknown>;

/** Checks a parsed part field by field; an InputError names the file and the first bad field. */
export function validatePart(path: string, doc: unknown): PartialResult {
  const bad = (field: string, expected: string, found: unknown): never => {
    const shown = found === undefined ? "nothing" : JSON.stringify(found);
    throw new InputError(
      `${path}: ${field} should be ${expected}, found ${shown}; not a valid eval-nll partial result`,
    );
  };
  const object = (v: unknown, field: string): Obj =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? v as Obj
      : bad(field, "an object", v);
  const array = (v: unknown, field: string): unknown[] =>
    Array.isArray(v) ? v : bad(field, "an array", v);
  const string = (o: Obj, key: string, at: string) =>
    typeof o[key] === "string" ? o[key] as string : bad(`${at}${key}`, "a string", o[key]);
  // JSON has no NaN or infinity: a number here is always finite
  const number = (o: Obj, key: string, at: string) =>
    typeof o[key] === "number" ? o[key] as number : bad(`${at}${key}`, "a number", o[key]);
  const integer = (o: Obj, key: string, at: string, min: number) =>
    Number.isInteger(o[key]) && (o[key] as number) >= min
      ? o[key] as number
      : bad(`${at}${key}`, `an integer ≥ ${min}`, o[key]);

  const root = object(doc, "the document");
  if (root.format !== PART_FORMAT) {
    if (root.format === "likelihood-eval-part/1") {
      throw new InputError(
        `${path}: a partial result of an earlier format (likelihood-eval-part/1) that does not ` +
          "record how it was computed (backend, adapter, kernels); evaluate that shard again",
      );
    }
    bad("format", JSON.stringify(PART_FORMAT), root.format);
  }
  const shard = object(root.shard, "shard");
  const count = integer(shard, "count", "shard.", 1);
  if (integer(shard, "index", "shard.", 0) >= count) {
    bad("shard.index", `below shard.count (${count})`, shard.index);
  }

  const settings = object(root.settings, "settings");
  for (const key of ["model", "data", "dequantization", "divergence", "probe", "prior"]) {
    string(settings, key, "settings.");
  }
  for (const key of ["t_min", "t_max", "rtol", "atol", "seed"]) number(settings, key, "settings.");
  integer(settings, "dim", "settings.", 1);
  integer(settings, "dequant_samples", "settings.", 1);
  integer(settings, "probes", "settings.", 0);
  const n = integer(settings, "n_total", "settings.", 0);
  const sde = object(settings.sde, "settings.sde");
  string(sde, "kind", "settings.sde.");
  const params = object(sde.params, "settings.sde.params");
  for (const key of Object.keys(params)) number(params, key, "settings.sde.params.");

  const compute = object(root.compute, "compute");
  for (const key of ["backend", "adapter", "dtype"]) string(compute, key, "compute.");
  const kernels = object(compute.kernels, "compute.kernels");
  for (const [family, variants] of Object.entries(kernels)) {
    array(variants, `compute.kernels.${family}`).forEach((v, i) => {
      if (typeof v !== "string") bad(`compute.kernels.${family}[${i}]`, "a variant name", v);
    });
  }

  const index = (o: Obj, at: string) => {
    const i = integer(o, "index", at, 0);
    if (i >= n) bad(`${at}index`, `below settings.n_total (${n})`, i);
  };
  array(root.examples, "examples").forEach((e, i) => {
    const at = `examples[${i}].`, row = object(e, `examples[${i}]`);
    index(row, at);
    number(row, "nll", at);
    integer(row, "nfe", at, 0);
  });
  if (root.bound !== undefined) {
    const bound = object(root.bound, "bound");
    integer(bound, "samples", "bound.", 1);
    for (const key of ["prior", "dequantization"]) string(bound, key, "bound.");
    for (const key of ["bpd_offset", "t_decoder"]) number(bound, key, "bound.");
    array(bound.examples, "bound.examples").forEach((e, i) => {
      const at = `bound.examples[${i}].`, row = object(e, `bound.examples[${i}]`);
      index(row, at);
      for (const key of ["nll", "stderr", "prior", "diffusion", "offset", "dequantization"]) {
        number(row, key, at);
      }
    });
  }
  return doc as PartialResult;
}

/**
 * The dotted path of the first field where two JSON values differ (`compute.adapter`,
 * `settings.sde.params.beta1`), with both values; null when they are equal.
 */
export function firstDifference(
  a: unknown,
  b: unknown,
  at = "",
): { field: string; a: unknown; b: unknown } | null {
  const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference(a[key], b[key], at ? `${at}.${key}` : key);
      if (d) return d;
    }
    return null;
  }
  // arrays (a kernel family's variants) compare whole
  return JSON.stringify(a) === JSON.stringify(b) ? null : { field: at, a, b };
}
