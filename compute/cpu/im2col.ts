/**
 * Convolution as a product: `im2col` lays one image's receptive fields out as a
 * [C·kh·kw, Ho·Wo] matrix (zeros where a tap falls in the padding), so y = W·col is one sgemm;
 * `col2imAdd` is its adjoint, scattering a column matrix back onto the image (the input
 * gradient). Rows are ordered (c, a, b), the layout of a weight [O, C, kh, kw] read as O rows.
 */

import type { ConvGeometry } from "../backend.ts";

/** Outputs i ∈ [lo, hi) whose input index i·s − p + tap lies in [0, size). */
function validRange(tap: number, size: number, count: number, g: ConvGeometry): [number, number] {
  const lo = Math.max(0, Math.ceil((g.padding - tap) / g.stride));
  const hi = Math.min(count, Math.floor((size - 1 + g.padding - tap) / g.stride) + 1);
  return [lo, Math.max(lo, hi)];
}

/**
 * col[(c·kh + a)·kw + b, at + i·Wo + j] = x[c, i·s − p + a, j·s − p + b] of the image at `xOff`;
 * `ld` is the row length of `col` (Ho·Wo for one image, more when several sit side by side).
 */
export function im2col(
  x: Float32Array,
  xOff: number,
  g: ConvGeometry,
  col: Float32Array,
  ld = g.ho * g.wo,
  at = 0,
): void {
  const { stride: s, padding: p, w: iw, ho, wo } = g, plane = g.h * iw, cols = ho * wo;
  for (let c = 0; c < g.c; c++) {
    for (let a = 0; a < g.kh; a++) {
      const [i0, i1] = validRange(a, g.h, ho, g);
      for (let b = 0; b < g.kw; b++) {
        const [j0, j1] = validRange(b, iw, wo, g);
        const row = ((c * g.kh + a) * g.kw + b) * ld + at, xc = xOff + c * plane;
        // rows of the padding stay zero; plain index loops (a subarray per row costs more
        // than the copy at these widths)
        col.fill(0, row, row + i0 * wo);
        col.fill(0, row + i1 * wo, row + cols);
        for (let i = i0; i < i1; i++) {
          const src = xc + (i * s - p + a) * iw - p + b, dst = row + i * wo;
          for (let j = 0; j < j0; j++) col[dst + j] = 0;
          for (let j = j0; j < j1; j++) col[dst + j] = x[src + j * s];
          for (let j = j1; j < wo; j++) col[dst + j] = 0;
        }
      }
    }
  }
}

/** The adjoint of `im2col`: dx[c, i·s − p + a, j·s − p + b] += col[(c, a, b), at + i·Wo + j]. */
export function col2imAdd(
  col: Float32Array,
  g: ConvGeometry,
  dx: Float32Array,
  dxOff: number,
  ld = g.ho * g.wo,
  at = 0,
) {
  const { stride: s, padding: p, w: iw, ho, wo } = g, plane = g.h * iw;
  for (let c = 0; c < g.c; c++) {
    for (let a = 0; a < g.kh; a++) {
      const [i0, i1] = validRange(a, g.h, ho, g);
      for (let b = 0; b < g.kw; b++) {
        const [j0, j1] = validRange(b, iw, wo, g);
        const row = ((c * g.kh + a) * g.kw + b) * ld + at, xc = dxOff + c * plane;
        for (let i = i0; i < i1; i++) {
          const dst = xc + (i * s - p + a) * iw - p + b, src = row + i * wo;
          for (let j = j0; j < j1; j++) dx[dst + j * s] += col[src + j];
        }
      }
    }
  }
}
