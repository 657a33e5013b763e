/**
 * Elementwise kernels: fill, unary (the op a specialisation constant), broadcasting binary and
 * where. The ops' WGSL lives in elementwise_ops.ts.
 */

import { MAIN_1D, PRELUDE } from "./common.ts";
import { binaryApply, unarySwitch } from "./elementwise_ops.ts";

export { binaryCodes, unaryCodes } from "./elementwise_ops.ts";

// params: [0] n, [1] value bits
export const FILL = PRELUDE + /* wgsl */ `
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${MAIN_1D} {
  let i = flat_index(gid, nwg);
  if (i >= P(0u)) { return; }
  out[i] = Pf(1u);
}`;

// The op is a pipeline-overridable constant: each op gets its own specialised pipeline, so
// a CPU adapter does not evaluate every case under a lane mask. T is f32, or vec4<f32> for the
// four-wide kernels (one invocation and one 16-byte load per four elements).
// params: [0] n (of T)
const unaryCode = (T: string) =>
  PRELUDE + /* wgsl */ `
override OP: u32 = 0u;
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read_write> out: array<${T}>;
${MAIN_1D} {
  let i = flat_index(gid, nwg);
  if (i >= P(0u)) { return; }
  let v = x[i];
  var r: ${T};
  ${unarySwitch(T)}
  out[i] = r;
}`;
export const UNARY = unaryCode("f32");
export const UNARY4 = unaryCode("vec4<f32>");

// Strided offset of flat index i for operand k (strides at params[base + d]).
const STRIDED = /* wgsl */ `
fn strided(i: u32, rank: u32, base: u32) -> u32 {
  var rem = i;
  var off = 0u;
  for (var d = i32(rank) - 1; d >= 0; d--) {
    let s = P(4u + u32(d));
    off += (rem % s) * P(base + u32(d));
    rem = rem / s;
  }
  return off;
}`;

// OP and DENSE (bit k: operand k reads index i directly) specialise the pipeline.
// params: [0] n, [2] rank, [4..9] shape, [10..15] a strides, [16..21] b strides
export const BINARY = PRELUDE + STRIDED + binaryApply("f32") + /* wgsl */ `
override OP: u32 = 0u;
override DENSE: u32 = 0u;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${MAIN_1D} {
  let i = flat_index(gid, nwg);
  if (i >= P(0u)) { return; }
  let rank = P(2u);
  var ia = i;
  var ib = i;
  if ((DENSE & 1u) == 0u) { ia = strided(i, rank, 10u); }
  if ((DENSE & 2u) == 0u) { ib = strided(i, rank, 16u); }
  out[i] = apply(a[ia], b[ib]);
}`;

/** How a four-wide binary kernel reads an operand (see BINARY4). */
export const VEC4_MODE = { dense: 0, scalar: 1, splat: 2, gather: 3, row: 4 } as const;

/** `load_<x>(i, rank)`: four elements of operand x read as its MODE says (strides at `base`). */
const vec4Loader = (x: string, mode: string, base: number) => /* wgsl */ `
fn at_${x}(j: u32) -> f32 { return ${x}[j >> 2u][j & 3u]; }
fn load_${x}(i: u32, rank: u32) -> vec4<f32> {
  switch ${mode} {
    case 0u: { return ${x}[i]; }
    case 1u: { return vec4<f32>(${x}[0][0]); }
    case 2u: { return vec4<f32>(at_${x}(strided(4u * i, rank, ${base}u))); }
    case 4u: { return ${x}[strided(4u * i, rank, ${base}u) >> 2u]; }
    default: {
      return vec4<f32>(at_${x}(strided(4u * i, rank, ${base}u)), at_${x}(strided(4u * i + 1u, rank, ${base}u)),
                       at_${x}(strided(4u * i + 2u, rank, ${base}u)), at_${x}(strided(4u * i + 3u, rank, ${base}u)));
    }
  }
}`;

// Four outputs per invocation (n divisible by 4). MA and MB say how each operand is read:
// dense, one 16-byte load · scalar, element 0 (its strides are all 0) · splat, one strided
// element for all four (its last-axis stride is 0 and the last extent divisible by 4, so the
// four outputs share it) · row, one 16-byte load at a strided index (its last-axis stride is 1
// and every other stride and the last extent are multiples of 4: a bias broadcast
// along rows) · gather, four strided elements.
// params as BINARY, [0] n in vec4s
export const BINARY4 = PRELUDE + STRIDED + binaryApply("vec4<f32>") + /* wgsl */ `
override OP: u32 = 0u;
override MA: u32 = 0u;
override MB: u32 = 0u;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;
${vec4Loader("a", "MA", 10)}${vec4Loader("b", "MB", 16)}
${MAIN_1D} {
  let i = flat_index(gid, nwg);
  if (i >= P(0u)) { return; }
  let rank = P(2u);
  out[i] = apply(load_a(i, rank), load_b(i, rank));
}`;

// DENSE as in BINARY. params: [0] n, [2] rank, [4..9] shape, [10..15] cond, [16..21] a, [22..27] b strides
export const WHERE = PRELUDE + STRIDED + /* wgsl */ `
override DENSE: u32 = 0u;
@group(0) @binding(1) var<storage, read> c: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
${MAIN_1D} {
  let i = flat_index(gid, nwg);
  if (i >= P(0u)) { return; }
  let rank = P(2u);
  var ic = i;
  var ia = i;
  var ib = i;
  if ((DENSE & 1u) == 0u) { ic = strided(i, rank, 10u); }
  if ((DENSE & 2u) == 0u) { ia = strided(i, rank, 16u); }
  if ((DENSE & 4u) == 0u) { ib = strided(i, rank, 22u); }
  out[i] = select(b[ib], a[ia], c[ic] != 0.0);
}`;

/**
 * out = Σ_j w_j t_j for `terms` inputs (1 to 7: with the output, the 8 storage buffers every
 * adapter offers), four elements per invocation (buffers are 16-byte multiples, so the last
 * vec4 may run past n into the padding). params: [0] n in vec4s, [4 + j] w_j (f32 bits).
 */
export const weightedSumCode = (terms: number) => {
  const js = [...Array(terms).keys()];
  return PRELUDE +
    js.map((j) => `@group(0) @binding(${j + 1}) var<storage, read> t${j}: array<vec4<f32>>;`).join(
      "\n",
    ) + /* wgsl */ `
@group(0) @binding(${terms + 1}) var<storage, read_write> out: array<vec4<f32>>;
${MAIN_1D} {
  let i = flat_index(gid, nwg);
  if (i >= P(0u)) { return; }
  out[i] = ${js.map((j) => `Pf(${4 + j}u) * t${j}[i]`).join(" + ")};
}`;
};
