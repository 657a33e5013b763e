/**
 * The cpu backend's strided copy (slices, concatenation, padding, transposes, broadcasts). Rows
 * that are contiguous on both sides become `set` (a memcpy) and broadcast rows `fill` once they
 * are long enough to repay the call; the rest run a plain strided loop.
 */

import type { View } from "../backend.ts";
import { sizeOf } from "../shape.ts";
import { forEachBlock, simplify } from "./strided.ts";

/** Below this many elements a row is copied by a loop rather than by `set` or `fill`. */
const BULK_MIN = 32;

/** Copies `shape` elements from a strided window of S into a strided window of D. */
export function copy(
  S: Float32Array,
  sv: View,
  D: Float32Array,
  dv: View,
  shape: readonly number[],
): void {
  if (sizeOf(shape) === 0) return;
  const layout = simplify(shape, [sv.strides, dv.strides]);
  const { dims, strides: [ss, ds] } = layout, r = dims.length;
  const n1 = dims[r - 2], n0 = dims[r - 1];
  const s1 = ss[r - 2], s0 = ss[r - 1], d1 = ds[r - 2], d0 = ds[r - 1];
  // `set` on one array copies as if through a temporary; the loops copy in index order
  const bulk = n0 >= BULK_MIN && S !== D;
  forEachBlock(layout, [sv.offset, dv.offset], ([s, d]) => {
    for (let j = 0; j < n1; j++) {
      let is = s + j * s1, id = d + j * d1;
      if (bulk && s0 === 1 && d0 === 1) D.set(S.subarray(is, is + n0), id);
      else if (bulk && s0 === 0 && d0 === 1) D.fill(S[is], id, id + n0);
      else if (s0 === 1 && d0 === 1) {
        const e = id - is, end = is + n0;
        for (let i = is; i < end; i++) D[i + e] = S[i];
      } else {
        for (let i = 0; i < n0; i++, is += s0, id += d0) D[id] = S[is];
      }
    }
  });
}
