/**
 * Stride-1 convolutions as kh·kw shifted products, with no column matrix. A group of images is
 * laid out channel-major on its zero-padded grid, X̂[c, n·S + r·Wp + q] (Hp = H + 2p,
 * Wp = W + 2p, S = Hp·Wp), and the outputs on the same grid, Ŷ[o, n·S + i·Wp + j]. Every tap
 * (a, b) then reads the input at one fixed offset a·Wp + b, so for each tap
 *   Ŷ += W_ab · X̂[:, a·Wp + b …]          (W_ab[o, c] = w[o, c, a, b])
 * is one sgemm over the whole group, L = (count − 1)·S + (Ho − 1)·Wp + Wo grid columns wide
 * (the columns j ≥ Wo are computed and dropped). The input gradient is the same scatter,
 * dX̂[:, a·Wp + b …] += W_abᵀ · dŶ with dŶ zero off the outputs, and the weight gradient
 * dW_ab = dŶ · X̂[:, a·Wp + b …]ᵀ. Against im2col a group moves C·S floats per image instead of
 * C·kh·kw·Ho·Wo, and the input gradient needs no col2im.
 */

import type { ConvGeometry } from "../backend.ts";
import type { Blas } from "./blas.ts";
import type { Scratch } from "./products.ts";

/** Grids are built for this many floats at most (16 MiB), images grouped to fit; the functions
 * take another budget only so that tests can split a small batch into groups. */
const GRID_BUDGET = 1 << 22;

/** Stride 1 and a kernel wider than one tap: the geometries the shifted form serves. */
export function shiftedApplies(g: ConvGeometry): boolean {
  return g.stride === 1 && g.kh * g.kw > 1;
}

interface Grid {
  /** padded row length */
  wp: number;
  /** one image's padded plane, Hp·Wp */
  plane: number;
  /** row length of a grid matrix: count·S */
  width: number;
  /** grid columns a tap's product covers */
  span: number;
}

function gridOf(g: ConvGeometry, count: number): Grid {
  const wp = g.w + 2 * g.padding, plane = (g.h + 2 * g.padding) * wp;
  return { wp, plane, width: count * plane, span: (count - 1) * plane + (g.ho - 1) * wp + g.wo };
}

/** Images per group: as many as fit the budget (input and output grids), at least one. */
function groupSize(g: ConvGeometry, invariant: boolean, budget: number): number {
  if (invariant) return 1;
  const perImage = (g.c + g.o) * gridOf(g, 1).plane;
  return Math.max(1, Math.min(g.n, Math.floor(budget / Math.max(perImage, 1))));
}

/** X̂ of images [i0, i0 + count): zeros, then each image row at its padded place. */
function padGroup(
  X: Float32Array,
  i0: number,
  count: number,
  g: ConvGeometry,
  d: Grid,
  xp: Float32Array,
) {
  const { c: C, h: H, w: W, padding: p } = g, image = C * H * W;
  xp.fill(0, 0, C * d.width);
  for (let j = 0; j < count; j++) {
    for (let c = 0; c < C; c++) {
      const src = (i0 + j) * image + c * H * W, dst = c * d.width + j * d.plane + p * d.wp + p;
      for (let r = 0; r < H; r++) {
        const s = src + r * W, t = dst + r * d.wp;
        for (let q = 0; q < W; q++) xp[t + q] = X[s + q];
      }
    }
  }
}

/** dŶ of images [i0, i0 + count): each output row at its grid place, zeros elsewhere. */
function gridOutputs(
  DY: Float32Array,
  i0: number,
  count: number,
  g: ConvGeometry,
  d: Grid,
  yp: Float32Array,
) {
  const { o: O, ho, wo } = g, image = O * ho * wo;
  yp.fill(0, 0, O * d.width);
  for (let j = 0; j < count; j++) {
    for (let o = 0; o < O; o++) {
      const src = (i0 + j) * image + o * ho * wo, dst = o * d.width + j * d.plane;
      for (let i = 0; i < ho; i++) {
        const s = src + i * wo, t = dst + i * d.wp;
        for (let q = 0; q < wo; q++) yp[t + q] = DY[s + q];
      }
    }
  }
}

/** w [O, C, kh, kw] → [tap][O][C], so each tap's matrix is a plain row-major operand. */
function packTaps(W: Float32Array, g: ConvGeometry, packed: Float32Array): Float32Array {
  const taps = g.kh * g.kw, oc = g.o * g.c;
  for (let t = 0; t < taps; t++) {
    for (let i = 0; i < oc; i++) packed[t * oc + i] = W[i * taps + t];
  }
  return packed;
}

/** y[n,o,i,j] = bias[o] + Σ x[n,c,i−p+a, j−p+b] w[o,c,a,b], stride 1. */
export function conv2dShifted(
  blas: Blas,
  scratch: Scratch,
  X: Float32Array,
  W: Float32Array,
  g: ConvGeometry,
  Y: Float32Array,
  bias: Float32Array | null,
  invariant: boolean,
  budget = GRID_BUDGET,
): void {
  const { c: C, o: O, ho, wo, kw } = g, taps = g.kh * kw, oc = O * C;
  const per = groupSize(g, invariant, budget);
  const packed = packTaps(W, g, scratch.get(1, taps * oc));
  for (let i0 = 0; i0 < g.n; i0 += per) {
    const count = Math.min(per, g.n - i0), d = gridOf(g, count);
    const xp = scratch.get(0, C * d.width), yp = scratch.get(2, O * d.width);
    padGroup(X, i0, count, g, d, xp);
    for (let t = 0; t < taps; t++) {
      const shift = Math.floor(t / kw) * d.wp + (t % kw);
      blas.sgemm(
        false,
        false,
        O,
        d.span,
        C,
        1,
        packed.subarray(t * oc),
        C,
        xp.subarray(shift),
        d.width,
        t === 0 ? 0 : 1,
        yp,
        d.width,
      );
    }
    for (let j = 0; j < count; j++) {
      for (let o = 0; o < O; o++) {
        const dst = ((i0 + j) * O + o) * ho * wo, src = o * d.width + j * d.plane;
        const b = bias ? bias[o] : 0;
        for (let i = 0; i < ho; i++) {
          const s = src + i * d.wp, t = dst + i * wo;
          for (let q = 0; q < wo; q++) Y[t + q] = yp[s + q] + b;
        }
      }
    }
  }
}

/** dx from dy [N, O, Ho, Wo] and w, stride 1: Σ over taps of W_abᵀ·dŶ scattered at the tap. */
export function conv2dShiftedInputGrad(
  blas: Blas,
  scratch: Scratch,
  DY: Float32Array,
  W: Float32Array,
  g: ConvGeometry,
  DX: Float32Array,
  invariant: boolean,
  budget = GRID_BUDGET,
): void {
  const { c: C, o: O, h: H, w: IW, kw, padding: p } = g, taps = g.kh * kw, oc = O * C;
  const per = groupSize(g, invariant, budget);
  const packed = packTaps(W, g, scratch.get(1, taps * oc));
  for (let i0 = 0; i0 < g.n; i0 += per) {
    const count = Math.min(per, g.n - i0), d = gridOf(g, count);
    const xp = scratch.get(0, C * d.width), yp = scratch.get(2, O * d.width);
    gridOutputs(DY, i0, count, g, d, yp);
    xp.fill(0);
    for (let t = 0; t < taps; t++) {
      const shift = Math.floor(t / kw) * d.wp + (t % kw);
      // [C, O] (a tap's weights read transposed) × [O, span], added at the tap's offset
      blas.sgemm(
        true,
        false,
        C,
        d.span,
        O,
        1,
        packed.subarray(t * oc),
        C,
        yp,
        d.width,
        1,
        xp.subarray(shift),
        d.width,
      );
    }
    for (let j = 0; j < count; j++) {
      for (let c = 0; c < C; c++) {
        const dst = ((i0 + j) * C + c) * H * IW, src = c * d.width + j * d.plane + p * d.wp + p;
        for (let r = 0; r < H; r++) {
          const s = src + r * d.wp, t = dst + r * IW;
          for (let q = 0; q < IW; q++) DX[t + q] = xp[s + q];
        }
      }
    }
  }
}

/** dw[o,c,a,b] = Σ over images and outputs of dy[o, i, j]·x[c, i−p+a, j−p+b], stride 1. */
export function conv2dShiftedWeightGrad(
  blas: Blas,
  scratch: Scratch,
  X: Float32Array,
  DY: Float32Array,
  g: ConvGeometry,
  DW: Float32Array,
  budget = GRID_BUDGET,
): void {
  const { c: C, o: O, kw } = g, taps = g.kh * kw, oc = O * C, per = groupSize(g, false, budget);
  const tapGrads = scratch.get(1, taps * oc);
  tapGrads.fill(0);
  for (let i0 = 0; i0 < g.n; i0 += per) {
    const count = Math.min(per, g.n - i0), d = gridOf(g, count);
    const xp = scratch.get(0, C * d.width), yp = scratch.get(2, O * d.width);
    padGroup(X, i0, count, g, d, xp);
    gridOutputs(DY, i0, count, g, d, yp);
    for (let t = 0; t < taps; t++) {
      const shift = Math.floor(t / kw) * d.wp + (t % kw);
      // [O, span] × [span, C]: the tap's input columns read transposed
      blas.sgemm(
        false,
        true,
        O,
        C,
        d.span,
        1,
        yp,
        d.width,
        xp.subarray(shift),
        d.width,
        1,
        tapGrads.subarray(t * oc),
        C,
      );
    }
  }
  for (let t = 0; t < taps; t++) {
    for (let i = 0; i < oc; i++) DW[i * taps + t] = tapGrads[t * oc + i];
  }
}
