/** Data movement and reduction kernels: strided copy (permute, expand, slice, pad, concat) and reduce. */

import { MAIN_1D, PRELUDE } from "./common.ts";

// params: [0] n, [2] rank, [3] src offset, [4..9] shape, [10..15] src strides,
//         [16..21] dst strides, [22] dst offset
export const COPY = PRELUDE + /* wgsl */ `
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
${MAIN_1D} {
  let i = flat_index(gid, nwg);
  if (i >= P(0u)) { return; }
  var rem = i;
  var s = P(3u);
  var o = P(22u);
  for (var d = i32(P(2u)) - 1; d >= 0; d--) {
    let extent = P(4u + u32(d));
    let idx = rem % extent;
    rem = rem / extent;
    s += idx * P(10u + u32(d));
    o += idx * P(16u + u32(d));
  }
  dst[o] = src[s];
}`;

// One thread per output element, looping over the reduced elements with an odometer.
// params: [0] n out, [1] op (0 sum, 1 max), [2] kept rank, [3] reduced rank, [4..9] kept shape,
//         [10..15] kept strides, [16..21] reduced shape, [22..27] reduced strides, [28] reduced count
export const REDUCE = PRELUDE + /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${MAIN_1D} {
  let i = flat_index(gid, nwg);
  if (i >= P(0u)) { return; }
  var rem = i;
  var base = 0u;
  for (var d = i32(P(2u)) - 1; d >= 0; d--) {
    let extent = P(4u + u32(d));
    base += (rem % extent) * P(10u + u32(d));
    rem = rem / extent;
  }
  let rr = P(3u);
  let is_max = P(1u) == 1u;
  var idx = array<u32, 6>(0u, 0u, 0u, 0u, 0u, 0u);
  var off = base;
  // max starts from the first element (max is idempotent), so −inf inputs stay −inf
  var acc = select(0.0, x[base], is_max);
  let count = P(28u);
  for (var r = 0u; r < count; r++) {
    let v = x[off];
    if (is_max) { acc = max(acc, v); } else { acc += v; }
    for (var d = i32(rr) - 1; d >= 0; d--) {
      let k = u32(d);
      idx[k] += 1u;
      off += P(22u + k);
      if (idx[k] < P(16u + k)) { break; }
      off -= P(22u + k) * P(16u + k);
      idx[k] = 0u;
    }
  }
  out[i] = acc;
}`;
