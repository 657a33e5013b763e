/** The cpu backend's select: out = cond ≠ 0 ? a : b, broadcasting like `binary.ts`. */

import type { View } from "../backend.ts";
import { contiguousStrides, sizeOf } from "../shape.ts";
import { forEachBlock, simplify } from "./strided.ts";

export function where(
  C: Float32Array,
  cv: View,
  A: Float32Array,
  av: View,
  B: Float32Array,
  bv: View,
  shape: readonly number[],
  O: Float32Array,
): void {
  if (sizeOf(shape) === 0) return;
  const layout = simplify(shape, [
    cv.strides,
    av.strides,
    bv.strides,
    contiguousStrides(shape),
  ]);
  const { dims, strides: [sc, sa, sb, so] } = layout, r = dims.length;
  const n1 = dims[r - 2], n0 = dims[r - 1];
  const c1 = sc[r - 2], c0 = sc[r - 1], a1 = sa[r - 2], a0 = sa[r - 1];
  const b1 = sb[r - 2], b0 = sb[r - 1], o1 = so[r - 2];
  const same = c0 === 1 && a0 === 1 && b0 === 1;
  forEachBlock(layout, [cv.offset, av.offset, bv.offset, 0], ([c, a, b, o]) => {
    for (let j = 0; j < n1; j++) {
      let ic = c + j * c1, ia = a + j * a1, ib = b + j * b1;
      const start = o + j * o1, end = start + n0;
      if (same) {
        for (let i = start; i < end; i++, ic++, ia++, ib++) O[i] = C[ic] !== 0 ? A[ia] : B[ib];
      } else {
        for (let i = start; i < end; i++, ic += c0, ia += a0, ib += b0) {
          O[i] = C[ic] !== 0 ? A[ia] : B[ib];
        }
      }
    }
  });
}
