/**
 * safetensors: round trips, a hand-built file (so a layout error cannot pass both writer and
 * reader), and every kind of corruption → an InputError that names the file and the problem.
 */

import assert from "node:assert/strict";
import { InputError } from "../../io/errors.ts";
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from "../../io/safetensors.ts";

const SRC = "model.safetensors";

/** 8-byte little-endian length, the header text (space-padded to `padTo`), then `data`. */
function handmade(header: string, data: number[] | Uint8Array = [], padTo = 1): Uint8Array {
  const text = new TextEncoder().encode(header);
  const n = Math.ceil(text.length / padTo) * padTo;
  const out = new Uint8Array(8 + n + data.length).fill(0x20, 8, 8 + n);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(text, 8);
  out.set(data, 8 + n);
  return out;
}

/** The InputError message decoding `bytes` gives (failing on success or another error type). */
function rejection(bytes: Uint8Array): string {
  try {
    decodeSafetensors(bytes, SRC);
  } catch (e) {
    assert.ok(e instanceof InputError, `expected an InputError, got ${e}`);
    assert.ok(e.message.startsWith(`${SRC}: `), `message must name the file: ${e.message}`);
    return e.message;
  }
  throw new Error("decodeSafetensors accepted a corrupt file");
}

const bytesOf = (a: Float32Array | Float64Array) =>
  Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

const SAMPLE: Record<string, SafeTensor> = {
  matrix: { dtype: "F32", shape: [2, 3], data: new Float32Array([1, -2, 3.5, 1e-40, -0, 7]) },
  scalar: { dtype: "F64", shape: [], data: new Float64Array([Math.PI]) },
  empty: { dtype: "F32", shape: [0], data: new Float32Array(0) },
  empty3d: { dtype: "F64", shape: [3, 0, 2], data: new Float64Array(0) },
  odd: {
    dtype: "F32",
    shape: [1, 1, 5],
    data: new Float32Array([NaN, Infinity, -Infinity, 0.1, 2]),
  },
  wide: { dtype: "F64", shape: [3], data: new Float64Array([Number.MIN_VALUE, -1e300, 1 / 3]) },
};
const GOOD = encodeSafetensors(SAMPLE, { step: "12", note: "ünïcode ✓", empty: "" });

Deno.test("safetensors round trip keeps dtypes, shapes, bits and metadata", () => {
  const { metadata, tensors } = decodeSafetensors(GOOD, SRC);
  assert.deepEqual(metadata, { step: "12", note: "ünïcode ✓", empty: "" });
  assert.deepEqual(Object.keys(tensors).sort(), Object.keys(SAMPLE).sort());
  for (const [name, t] of Object.entries(SAMPLE)) {
    const got = tensors[name];
    assert.equal(got.dtype, t.dtype, name);
    assert.deepEqual(got.shape, t.shape, name);
    assert.equal(got.data.constructor, t.data.constructor, name);
    assert.deepEqual(bytesOf(got.data), bytesOf(t.data), `${name}: bits differ`);
  }
});

Deno.test("safetensors header is space-padded so the data section starts 8-byte aligned", () => {
  const n = Number(new DataView(GOOD.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = new TextDecoder().decode(GOOD.subarray(8, 8 + n));
  assert.match(header, /^\{.*\} *$/);
  // Data bytes: 6 + 5 F32 values and 1 + 3 F64 values.
  assert.equal(GOOD.length - 8 - n, 11 * 4 + 4 * 8);
});

// Built by hand from the format's definition: 132 header bytes padded to 136.
const HEADER = '{"__metadata__":{"k":"v"},' +
  '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
  '"b":{"dtype":"F64","shape":[],"data_offsets":[8,16]}}';
const HAND = new Uint8Array([
  ...[136, 0, 0, 0, 0, 0, 0, 0], // header length, little-endian u64
  ...new TextEncoder().encode(HEADER),
  ...[0x20, 0x20, 0x20, 0x20], // padding to a multiple of 8
  ...[0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0], // F32 1.5, -2
  ...[0, 0, 0, 0, 0, 0, 0xd0, 0x3f], // F64 0.25
]);

Deno.test("safetensors known answer: the writer produces the hand-built bytes", () => {
  assert.equal(HEADER.length, 132);
  const written = encodeSafetensors({
    a: { dtype: "F32", shape: [2], data: new Float32Array([1.5, -2]) },
    b: { dtype: "F64", shape: [], data: new Float64Array([0.25]) },
  }, { k: "v" });
  assert.deepEqual(Array.from(written), Array.from(HAND));
});

Deno.test("safetensors known answer: the reader decodes the hand-built bytes", () => {
  const { metadata, tensors } = decodeSafetensors(HAND, SRC);
  assert.deepEqual(metadata, { k: "v" });
  assert.deepEqual(Array.from(tensors.a.data), [1.5, -2]);
  assert.ok(tensors.a.data instanceof Float32Array);
  assert.deepEqual(tensors.b.shape, []);
  assert.deepEqual(Array.from(tensors.b.data), [0.25]);
  assert.ok(tensors.b.data instanceof Float64Array);
});

Deno.test("safetensors reader accepts unpadded headers, no metadata and any data order", () => {
  // b's data comes first; the reader must follow the offsets, not the key order.
  const header = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},' +
    '"b":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}';
  const data = [0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0x40, 0x40]; // F64 1, F32 3
  const { metadata, tensors } = decodeSafetensors(handmade(header, data), SRC);
  assert.deepEqual(metadata, {});
  assert.deepEqual(Array.from(tensors.b.data), [1]);
  assert.deepEqual(Array.from(tensors.a.data), [3]);
});

Deno.test("safetensors truncated anywhere → InputError naming the problem", () => {
  const n = Number(new DataView(GOOD.buffer).getBigUint64(0, true));
  const cases: [number, RegExp][] = [
    [0, /0 bytes, too short for the 8-byte header length/],
    [5, /5 bytes, too short/],
    [8, /header length \d+ \(at offset 0\) extends beyond the file/],
    [8 + (n >> 1), /extends beyond the file/],
    [8 + n, /data_offsets .* exceed the 0-byte data section/],
    [8 + n + 10, /tensor "\w+": data_offsets .* exceed the 10-byte data section/],
    [GOOD.length - 1, /exceed the \d+-byte data section \(file truncated\?\)/],
  ];
  for (const [cut, pattern] of cases) {
    assert.match(rejection(GOOD.slice(0, cut)), pattern, `cut at ${cut}`);
  }
});

Deno.test("safetensors flipped header bytes: InputError or a valid file, never a crash", () => {
  const n = Number(new DataView(GOOD.buffer).getBigUint64(0, true));
  let rejected = 0;
  for (let i = 0; i < 8 + n; i++) {
    const bad = GOOD.slice();
    bad[i] ^= 0x04;
    try {
      decodeSafetensors(bad, SRC);
    } catch (e) {
      assert.ok(e instanceof InputError, `byte ${i}: expected an InputError, got ${e}`);
      rejected++;
    }
  }
  // Flips inside metadata strings or names still give well-formed files; most do not.
  assert.ok(rejected > (8 + n) / 2, `only ${rejected} of ${8 + n} flips were rejected`);
});

const f32 = (name: string, shape: unknown, offsets: unknown, dtype: unknown = "F32") =>
  `"${name}":${JSON.stringify({ dtype, shape, data_offsets: offsets })}`;

Deno.test("safetensors malformed headers → InputError naming offset, tensor and expectation", () => {
  const zeros = (k: number) => new Array(k).fill(0);
  const cases: [string, Uint8Array, RegExp][] = [
    [
      "huge length",
      new Uint8Array([255, 255, 255, 255, 255, 255, 255, 255, 1, 2]),
      /extends beyond the file: expected at most 2 bytes/,
    ],
    ["bad JSON", handmade('{"a":'), /malformed JSON header at offsets 8\.\.13/],
    ["bad UTF-8", handmade("{}").fill(0xff, 8, 9), /malformed JSON header/],
    ["not an object", handmade("[1,2]"), /header at offset 8 must be an object, found \[1,2\]/],
    [
      "unknown dtype",
      handmade(`{${f32("w", [2], [0, 2], "I8")}}`, zeros(2)),
      /tensor "w": unsupported dtype "I8", expected F32 or F64/,
    ],
    ["entry not object", handmade('{"w":3}'), /tensor "w": expected an object, found 3/],
    [
      "negative dim",
      handmade(`{${f32("w", [-1], [0, 0])}}`),
      /tensor "w": shape must be .* found \[-1\]/,
    ],
    [
      "fractional dim",
      handmade(`{${f32("w", [1.5], [0, 6])}}`, zeros(6)),
      /tensor "w": shape must be/,
    ],
    [
      "size mismatch",
      handmade(`{${f32("w", [3], [0, 8])}}`, zeros(8)),
      /tensor "w": shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/,
    ],
    [
      "reversed offsets",
      handmade(`{${f32("w", [0], [8, 0])}}`, zeros(8)),
      /tensor "w": data_offsets must be \[begin, end\] .* found \[8,0\]/,
    ],
    ["one offset", handmade(`{${f32("w", [0], [0])}}`), /tensor "w": data_offsets must be/],
    [
      "out of bounds",
      handmade(`{${f32("w", [2], [4, 12])}}`, zeros(8)),
      /tensor "w": data_offsets \[4, 12\] \(file offsets \d+\.\.\d+\) exceed the 8-byte data section/,
    ],
    [
      "overlap",
      handmade(`{${f32("a", [2], [0, 8])},${f32("b", [2], [4, 12])}}`, zeros(12)),
      /tensor "b" starts at data offset 4 .* inside tensor "a" which ends at 8: tensors overlap/,
    ],
    [
      "gap",
      handmade(`{${f32("a", [2], [0, 8])},${f32("b", [2], [12, 20])}}`, zeros(20)),
      /gap of 4 bytes at data offset 8 .* before tensor "b"/,
    ],
    [
      "leading gap",
      handmade(`{${f32("a", [1], [4, 8])}}`, zeros(8)),
      /gap of 4 bytes at data offset 0/,
    ],
    [
      "trailing bytes",
      handmade(`{${f32("a", [1], [0, 4])}}`, zeros(8)),
      /4 unclaimed bytes after data offset 4/,
    ],
    [
      "metadata number",
      handmade('{"__metadata__":{"step":3}}'),
      /"__metadata__" value for key "step" must be a string, found 3/,
    ],
    [
      "metadata not object",
      handmade('{"__metadata__":"x"}'),
      /"__metadata__" must be an object of strings, found "x"/,
    ],
  ];
  for (const [what, bytes, pattern] of cases) assert.match(rejection(bytes), pattern, what);
});

Deno.test("safetensors writer refuses data that does not fill its shape or dtype", () => {
  assert.throws(
    () => encodeSafetensors({ w: { dtype: "F32", shape: [3], data: new Float32Array(2) } }, {}),
    /"w" has 2 values for shape \[3\]/,
  );
  assert.throws(
    () => encodeSafetensors({ w: { dtype: "F64", shape: [1], data: new Float32Array(1) } }, {}),
    /"w" is F64 but holds a Float32Array/,
  );
});
