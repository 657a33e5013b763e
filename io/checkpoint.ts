/**
 * Checkpoints as safetensors (DESIGN "Files it writes"): `ckpt.safetensors` holds the weights
 * (`params.<path>`) and EMA weights (`ema.<path>`) with the format, config, config hash and step
 * in `__metadata__`; `state.safetensors` holds the Adam moments (`adam_m.<path>`,
 * `adam_v.<path>`) with the step, RNG state and data cursor as JSON strings. Each save goes
 * through `writeFileAtomic`, so a crash mid-save leaves the previous complete file in place; a
 * training run saves the two as one unit with `saveCheckpointPair` (checkpoint_pair.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceBackend, tensor } from "../compute/mod.ts";
 * const backend = referenceBackend();
 * const params = { w: tensor(backend, [1, 2, 3]), b: tensor(backend, [0]) }; // float32 weights
 * const config = { model: "mlp", lr: 1e-3 };
 * const dir = await Deno.makeTempDir();
 * const path = await saveCheckpoint(dir, { params, metadata: await checkpointMeta(config, 1000) });
 * const ckpt = await loadCheckpoint(path, backend, "f32"); // dir/ckpt.safetensors
 * const restored = restoreTree(params, ckpt.params, "params", path);
 * assert.deepEqual([ckpt.meta.step, ckpt.config], [1000, config]);
 * assert.deepEqual(await restored.w.read(), Float32Array.of(1, 2, 3));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */

import { join } from "node:path";
import {
  type Backend,
  type DType,
  keep,
  type RngState,
  Tensor,
  tensor,
  type Tree,
} from "../compute/mod.ts";
import { MAX_RANK } from "../compute/backend.ts";
import { fmt, sameShape } from "../compute/shape.ts";
import { diskWriter, type FileWriter, writeFileAtomic } from "./atomic.ts";
import { InputError } from "./errors.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  firstNonFinite,
  type SafeTensor,
} from "./safetensors.ts";

export const CHECKPOINT_FORMAT = "likelihood-ckpt/1";
export const STATE_FORMAT = "likelihood-state/1";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** `__metadata__` of `ckpt.safetensors`; `config` is the full run config as JSON text. */
export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  config: string;
  config_hash: string;
  step: number;
}

/** What `--resume` needs beyond the weights. */
export interface TrainState {
  adamM: Tree;
  adamV: Tree;
  step: number;
  rng: RngState;
  dataCursor: Json;
  /** any further scalar state, stored as one JSON string */
  extra?: Record<string, Json>;
}

export type Named = Record<string, Tensor>;

/** Loaded tensors are keyed by full name (`params.layers.0.w`); see `restoreTree`. */
export type LoadedCheckpoint = { meta: CheckpointMeta; config: Json; params: Named; ema?: Named };
export type LoadedState = Omit<TrainState, "adamM" | "adamV"> & { adamM: Named; adamV: Named };

/** Bad input files exit 3 (io/errors.ts); every message starts with the file. */
const bad = (source: string, msg: string): never => {
  throw new InputError(`${source}: ${msg}`);
};

/** JSON with object keys sorted at every level, so equal configs give equal text. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
  );
}

/** SHA-256 (hex) of the key-sorted JSON of `config`: independent of key order. */
export async function configHash(config: unknown): Promise<string> {
  const text = new TextEncoder().encode(canonicalJson(config));
  const digest = await crypto.subtle.digest("SHA-256", text);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The metadata for `config` at `step`, config stored key-sorted. */
export async function checkpointMeta(config: unknown, step: number): Promise<CheckpointMeta> {
  const hash = await configHash(config);
  return { format: CHECKPOINT_FORMAT, config: canonicalJson(config), config_hash: hash, step };
}

/** Leaves of a tree as `[prefix.path, tensor]`, in the order `treeLeaves` visits them. */
function flatten(tree: Tree, prefix: string, out: [string, Tensor][] = []): [string, Tensor][] {
  if (tree instanceof Tensor) out.push([prefix, tree]);
  else for (const [k, v] of Object.entries(tree)) flatten(v as Tree, `${prefix}.${k}`, out);
  return out;
}

async function encodeTrees(trees: [string, Tree | undefined][], metadata: Record<string, string>) {
  const tensors: Record<string, SafeTensor> = {};
  for (const [prefix, tree] of trees) {
    if (!tree) continue;
    for (const [name, t] of flatten(tree, prefix)) {
      // A key holding "." could make two paths one name; refuse rather than corrupt.
      if (name in tensors) throw new Error(`checkpoint: two tensors are both named "${name}"`);
      const dtype = t.dtype === "f64" ? "F64" : "F32";
      tensors[name] = { dtype, shape: [...t.shape], data: await t.read() };
    }
  }
  return encodeSafetensors(tensors, metadata);
}

/** The bytes of `ckpt.safetensors`: weights, EMA weights and `metadata` (plus `extra` keys). */
export function encodeCheckpoint(
  c: { params: Tree; ema?: Tree; metadata: CheckpointMeta },
  extra: Record<string, string> = {},
): Promise<Uint8Array> {
  const m = c.metadata;
  return encodeTrees([["params", c.params], ["ema", c.ema]], {
    ...m,
    step: String(m.step),
    ...extra,
  });
}

/** The bytes of `state.safetensors`: Adam moments, step, RNG and data cursor (plus `extra`). */
export function encodeState(
  s: TrainState,
  extra: Record<string, string> = {},
): Promise<Uint8Array> {
  const meta: Record<string, string> = {
    format: STATE_FORMAT,
    step: String(s.step),
    rng: JSON.stringify(s.rng),
    data_cursor: JSON.stringify(s.dataCursor),
    extra: JSON.stringify(s.extra ?? {}),
    ...extra,
  };
  return encodeTrees([["adam_m", s.adamM], ["adam_v", s.adamV]], meta);
}

/**
 * Writes `dir/ckpt.safetensors`; with `keep` > 0 also `dir/ckpt-000123.safetensors` for the
 * step, deleting all but the newest `keep` snapshots. Returns the path of `ckpt.safetensors`.
 * A training run saves weights and optimiser state together with `saveCheckpointPair`.
 */
export async function saveCheckpoint(
  dir: string,
  c: { params: Tree; ema?: Tree; metadata: CheckpointMeta; keep?: number },
): Promise<string> {
  const path = join(dir, "ckpt.safetensors");
  await writeFileAtomic(path, await encodeCheckpoint(c));
  await keepSnapshots(dir, c.metadata.step, c.keep ?? 0);
  return path;
}

/**
 * With `keep` > 0, copies `dir/ckpt.safetensors` to `dir/ckpt-<step>.safetensors` and deletes
 * all but the newest `keep` snapshots.
 */
export async function keepSnapshots(
  dir: string,
  step: number,
  keep: number,
  writer: FileWriter = diskWriter,
): Promise<void> {
  if (keep <= 0) return;
  const bytes = await Deno.readFile(join(dir, "ckpt.safetensors"));
  await writeFileAtomic(snapshotPath(dir, step), bytes, writer);
  const snaps: [number, string][] = [];
  for await (const e of Deno.readDir(dir)) {
    const hit = SNAPSHOT.exec(e.name);
    if (hit) snaps.push([Number(hit[1]), e.name]);
  }
  snaps.sort((a, b) => a[0] - b[0]);
  for (const [, name] of snaps.slice(0, -keep)) await Deno.remove(join(dir, name));
}

/** Numbered snapshots `ckpt-000123.safetensors` written by `keep`. */
export const SNAPSHOT = /^ckpt-(\d+)\.safetensors$/;

const snapshotPath = (dir: string, step: number) =>
  join(dir, `ckpt-${String(step).padStart(6, "0")}.safetensors`);

/** Writes `dir/state.safetensors`; returns its path. */
export async function saveState(dir: string, s: TrainState): Promise<string> {
  const path = join(dir, "state.safetensors");
  await writeFileAtomic(path, await encodeState(s));
  return path;
}

/**
 * Reads and checks `path`: safetensors structure, names under `groups`, metadata `format`.
 * Tensors are uploaded (as `dtype`) only by `upload`, after the caller has checked the
 * metadata, so a rejected file leaves no persistent tensors behind.
 */
async function open(path: string, format: string, groups: string[]) {
  const bytes = await Deno.readFile(path).catch((e) => bad(path, `cannot read: ${e.message}`));
  const { metadata, tensors } = decodeSafetensors(bytes, path);
  const nonFinite = firstNonFinite(tensors);
  if (nonFinite) {
    const { name, index, value } = nonFinite;
    bad(path, `tensor "${name}" holds ${value} at index ${index} (every value must be finite)`);
  }
  for (const [name, t] of Object.entries(tensors)) {
    if (!groups.includes(name.split(".")[0])) {
      bad(path, `unexpected tensor "${name}" (expected names under ${groups.join(". or ")}.)`);
    }
    if (t.shape.length > MAX_RANK) {
      bad(path, `tensor "${name}" has rank ${t.shape.length}, expected at most ${MAX_RANK}`);
    }
  }
  if (metadata.format !== format) {
    bad(path, `metadata "format" is ${JSON.stringify(metadata.format)}, expected "${format}"`);
  }
  /** The metadata entry `key` parsed as JSON, or an InputError saying what it must be. */
  const field = <T>(key: string, check: (v: unknown) => boolean, what: string): T => {
    let v: unknown;
    try {
      v = JSON.parse(metadata[key]);
    } catch { /* undefined: reported below */ }
    const found = JSON.stringify(metadata[key]);
    return check(v) ? v as T : bad(path, `metadata "${key}" must be ${what}, found ${found}`);
  };
  const upload = (backend: Backend, dtype: DType, group: string): Named | undefined => {
    if (!backend.supports(dtype)) {
      throw new Error(`${path}: backend ${backend.name} has no ${dtype}`);
    }
    const out: Named = {};
    for (const [name, t] of Object.entries(tensors)) {
      // tensor() converts between f64 and f32 as it uploads.
      if (name.split(".")[0] === group) out[name] = keep(tensor(backend, t.data, t.shape, dtype));
    }
    return Object.keys(out).length > 0 ? out : undefined;
  };
  return { metadata, field, upload };
}

const isStep = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
const isRng = (v: unknown) => {
  const k = (v as RngState)?.key;
  return isObject(v) && Array.isArray(k) && k.length === 2 && isStep((v as RngState).counter) &&
    k.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32);
};

/** Loads a checkpoint, checking format, step and that `config_hash` matches `config`. */
export async function loadCheckpoint(
  path: string,
  backend: Backend,
  dtype: DType,
): Promise<LoadedCheckpoint> {
  const { metadata, field, upload } = await open(path, CHECKPOINT_FORMAT, ["params", "ema"]);
  const step = field<number>("step", isStep, "a non-negative integer");
  const config = field<Json>("config", (v) => v !== undefined, "JSON text");
  const hash = await configHash(config);
  if (metadata.config_hash !== hash) {
    const found = JSON.stringify(metadata.config_hash);
    bad(path, `metadata "config_hash" is ${found}, but the stored config hashes to ${hash}`);
  }
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    config: metadata.config,
    config_hash: hash,
    step,
  };
  const params = upload(backend, dtype, "params") ?? {};
  return { meta, config, params, ema: upload(backend, dtype, "ema") };
}

/** Loads `state.safetensors`; rebuild the moments with `restoreTree(template, adamM, "adam_m")`. */
export async function loadState(
  path: string,
  backend: Backend,
  dtype: DType,
): Promise<LoadedState> {
  const { field, upload } = await open(path, STATE_FORMAT, ["adam_m", "adam_v"]);
  return {
    step: field("step", isStep, "a non-negative integer"),
    rng: field("rng", isRng, '{"key": [u32, u32], "counter": n}'),
    dataCursor: field("data_cursor", (v) => v !== undefined, "JSON text"),
    extra: field("extra", isObject, "a JSON object"),
    adamM: upload(backend, dtype, "adam_m") ?? {},
    adamV: upload(backend, dtype, "adam_v") ?? {},
  };
}

/**
 * Rebuilds a tree shaped like `template` from `loaded` tensors named `prefix.<path>`. Every
 * expected name must exist with the template's shape, and no other `prefix.` name may remain.
 */
export function restoreTree<T extends Tree>(
  template: T,
  loaded: Named,
  prefix: string,
  source = "checkpoint",
): T {
  const used = new Set<string>();
  const build = (t: Tree, name: string): Tree => {
    if (!(t instanceof Tensor)) {
      if (Array.isArray(t)) return t.map((v, i) => build(v, `${name}.${i}`));
      return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, build(v, `${name}.${k}`)]));
    }
    const got = loaded[name];
    if (!got) bad(source, `missing tensor "${name}" (expected shape ${fmt(t.shape)})`);
    if (!sameShape(got.shape, t.shape)) {
      bad(source, `tensor "${name}" has shape ${fmt(got.shape)}, expected ${fmt(t.shape)}`);
    }
    if (got.dtype !== t.dtype) {
      throw new Error(`restoreTree: "${name}" loaded as ${got.dtype}, template is ${t.dtype}`);
    }
    used.add(name);
    return got;
  };
  const tree = build(template, prefix) as T;
  const extra = Object.keys(loaded).filter((n) =>
    (n === prefix || n.startsWith(`${prefix}.`)) && !used.has(n)
  );
  if (extra.length > 0) {
    bad(source, `unexpected tensors not in the model: ${extra.map((n) => `"${n}"`).join(", ")}`);
  }
  return tree;
}
