/**
 * safetensors, written from the format's definition (huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON header, then the raw little-endian data.
 * The header maps each tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets
 * relative to the data section) plus an optional `"__metadata__"` of string → string.
 * Only F32 and F64 are supported: the toolkit stores nothing else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const bytes = encodeSafetensors(
 *   { w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } },
 *   { step: "10" },
 * );
 * const { metadata, tensors } = decodeSafetensors(bytes, "ckpt.safetensors");
 * assert.equal(metadata.step, "10");
 * assert.deepEqual([tensors.w.dtype, tensors.w.shape, [...tensors.w.data]], ["F32", [2], [1, 2]]);
 * ```
 */

import { sizeOf } from "../compute/mod.ts";
import { InputError } from "./errors.ts";

export type SafeDType = "F32" | "F64";

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: Float32Array | Float64Array;
}

export interface Safetensors {
  metadata: Record<string, string>;
  tensors: Record<string, SafeTensor>;
}

const BYTES: Record<SafeDType, number> = { F32: 4, F64: 8 };
const METADATA = "__metadata__";
// Every machine Deno runs on is little-endian; the check keeps the raw copy honest anyway.
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const isDType = (d: unknown): d is SafeDType => d === "F32" || d === "F64";
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * Serialises `tensors` (in insertion order, packed back to back) and `metadata`. The header is
 * padded with spaces so the data section starts 8-byte aligned, as the reference writer does.
 */
export function encodeSafetensors(
  tensors: Record<string, SafeTensor>,
  metadata: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header[METADATA] = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === METADATA) throw new Error(`safetensors: "${METADATA}" is not a tensor name`);
    const expected = t.dtype === "F32" ? Float32Array : Float64Array;
    if (!(t.data instanceof expected)) {
      throw new Error(
        `safetensors: tensor "${name}" is ${t.dtype} but holds a ${t.data.constructor.name}`,
      );
    }
    if (!t.shape.every(isCount) || sizeOf(t.shape) !== t.data.length) {
      throw new Error(
        `safetensors: tensor "${name}" has ${t.data.length} values for shape [${t.shape}]`,
      );
    }
    const end = offset + t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const n = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + n + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  let at = 8 + n;
  for (const t of Object.values(tensors)) {
    if (HOST_LE) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    else {
      t.data.forEach((v, i) =>
        t.dtype === "F32"
          ? view.setFloat32(at + 4 * i, v, true)
          : view.setFloat64(at + 8 * i, v, true)
      );
    }
    at += t.data.byteLength;
  }
  return out;
}

/**
 * Parses and validates a safetensors file. Every defect — truncation, a bad header, an
 * unsupported dtype, sizes that disagree, overlapping or non-contiguous data, non-string
 * metadata — is an `InputError` naming `source`, the offset or tensor, and what was expected.
 */
export function decodeSafetensors(bytes: Uint8Array, source: string): Safetensors {
  const fail = (msg: string): never => {
    throw new InputError(`${source}: ${msg}`);
  };
  if (bytes.length < 8) {
    fail(`file is ${bytes.length} bytes, too short for the 8-byte header length at offset 0`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(bytes.length - 8)) {
    fail(
      `header length ${n64} (at offset 0) extends beyond the file: expected at most ` +
        `${bytes.length - 8} bytes after offset 8 (file truncated or not safetensors)`,
    );
  }
  const n = Number(n64);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`malformed JSON header at offsets 8..${8 + n}: ${(e as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail(`JSON header at offset 8 must be an object, found ${JSON.stringify(header)}`);
  }
  const start = 8 + n, dataLength = bytes.length - start;
  const { [METADATA]: meta = {}, ...entries } = header as Record<string, unknown>;
  const metadata = readMetadata(meta, fail);

  const spans: { name: string; begin: number; end: number }[] = [];
  const infos: Record<string, { dtype: SafeDType; shape: number[]; begin: number }> = {};
  for (const [name, info] of Object.entries(entries)) {
    const at = `tensor "${name}"`;
    if (typeof info !== "object" || info === null) fail(`${at}: expected an object, found ${info}`);
    const { dtype, shape, data_offsets: offs } = info as Record<string, unknown>;
    if (!isDType(dtype)) {
      fail(`${at}: unsupported dtype ${JSON.stringify(dtype)}, expected F32 or F64`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      fail(`${at}: shape must be a list of non-negative integers, found ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount) || offs[0] > offs[1]) {
      fail(
        `${at}: data_offsets must be [begin, end] with 0 ≤ begin ≤ end, found ${
          JSON.stringify(offs)
        }`,
      );
    }
    const [begin, end] = offs as number[], d = dtype as SafeDType, s = shape as number[];
    const need = sizeOf(s) * BYTES[d];
    if (need !== end - begin) {
      fail(
        `${at}: shape [${s}] of ${d} needs ${need} bytes but data_offsets [${begin}, ${end}] span ${
          end - begin
        }`,
      );
    }
    if (end > dataLength) {
      fail(
        `${at}: data_offsets [${begin}, ${end}] (file offsets ${start + begin}..${start + end}) ` +
          `exceed the ${dataLength}-byte data section (file truncated?)`,
      );
    }
    spans.push({ name, begin, end });
    infos[name] = { dtype: d, shape: s, begin };
  }
  checkContiguous(spans, dataLength, start, fail);

  const tensors: Record<string, SafeTensor> = {};
  for (const [name, { dtype, shape, begin }] of Object.entries(infos)) {
    const count = sizeOf(shape), from = start + begin;
    // Copy out: a view into `bytes` would be misaligned for F64 after an odd number of F32s.
    const data = dtype === "F32" ? new Float32Array(count) : new Float64Array(count);
    if (HOST_LE) new Uint8Array(data.buffer).set(bytes.subarray(from, from + data.byteLength));
    else {
      for (let i = 0; i < count; i++) {
        data[i] = dtype === "F32"
          ? view.getFloat32(from + 4 * i, true)
          : view.getFloat64(from + 8 * i, true);
      }
    }
    tensors[name] = { dtype, shape, data };
  }
  return { metadata, tensors };
}

function readMetadata(meta: unknown, fail: (m: string) => never): Record<string, string> {
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) {
    fail(`"${METADATA}" must be an object of strings, found ${JSON.stringify(meta)}`);
  }
  for (const [k, v] of Object.entries(meta as object)) {
    if (typeof v !== "string") {
      fail(`"${METADATA}" value for key "${k}" must be a string, found ${JSON.stringify(v)}`);
    }
  }
  return { ...(meta as Record<string, string>) };
}

/** The data must tile [0, dataLength) exactly: no overlap, no gap, nothing left over. */
function checkContiguous(
  spans: { name: string; begin: number; end: number }[],
  dataLength: number,
  start: number,
  fail: (m: string) => never,
): void {
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0, prev = "the start of the data section";
  for (const s of spans) {
    if (s.begin < pos) {
      fail(
        `tensor "${s.name}" starts at data offset ${s.begin} (file offset ${
          start + s.begin
        }), inside ${prev} which ends at ${pos}: tensors overlap`,
      );
    }
    if (s.begin > pos) {
      fail(
        `gap of ${s.begin - pos} bytes at data offset ${pos} (file offset ${
          start + pos
        }) before tensor "${s.name}": expected contiguous data`,
      );
    }
    pos = s.end;
    prev = `tensor "${s.name}"`;
  }
  if (pos !== dataLength) {
    fail(
      `${dataLength - pos} unclaimed bytes after data offset ${pos} (file offset ${
        start + pos
      }): expected the data section to end with the last tensor`,
    );
  }
}

/** Where a tensor holds a value that is not finite: its name, flat index and the value. */
export interface NonFinite {
  name: string;
  index: number;
  value: number;
}

/** The first non-finite value, scanning tensors in file order; null when all are finite. */
export function firstNonFinite(tensors: Record<string, SafeTensor>): NonFinite | null {
  for (const [name, t] of Object.entries(tensors)) {
    const index = t.data.findIndex((v) => !Number.isFinite(v));
    if (index >= 0) return { name, index, value: t.data[index] };
  }
  return null;
}
