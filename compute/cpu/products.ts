/**
 * The cpu backend's products, all through `cblas_sgemm`. Matmuls whose operands are row-major
 * or transposed in memory go to sgemm directly (one call per batch entry); others, and those
 * too small to repay a foreign call, run a plain loop. Convolutions become products through
 * `im2col.ts`, several images at a time so that small feature maps still make a wide product:
 * forward Y = W·col, input gradient col2im(Wᵀ·dy), weight gradient Σ dy·colᵀ; stride-1 kernels
 * wider than one tap go to `conv_shifted.ts` instead (one product per tap, no column matrix).
 */

import type { ConvGeometry } from "../backend.ts";
import type { Blas } from "./blas.ts";
import { col2imAdd, im2col } from "./im2col.ts";
import {
  conv2dShifted,
  conv2dShiftedInputGrad,
  conv2dShiftedWeightGrad,
  shiftedApplies,
} from "./conv_shifted.ts";

/**
 * Below this many multiply-adds a product stays in TypeScript: a foreign call and its argument
 * marshalling cost about a microsecond, as much as a 16³ product in the loop.
 */
export const BLAS_MIN_MACS = 4096;

/** Column matrices are built for this many floats at most (16 MiB), images grouped to fit. */
const COLUMN_BUDGET = 1 << 22;

/** How an operand with (row, column) strides is passed to sgemm, or null when it cannot be. */
function gemmOperand(
  rowStride: number,
  colStride: number,
  rows: number,
  cols: number,
): { trans: boolean; ld: number } | null {
  if (colStride === 1 && (rows === 1 || rowStride >= cols)) {
    return { trans: false, ld: rows === 1 ? Math.max(cols, 1) : rowStride };
  }
  if (rowStride === 1 && (cols === 1 || colStride >= rows)) {
    return { trans: true, ld: cols === 1 ? Math.max(rows, 1) : colStride };
  }
  return null;
}

/** Reusable host scratch memory, grown on demand (no allocation per call in steady state). */
export class Scratch {
  #buffers: Float32Array[] = [];
  /** The `slot`-th scratch array, at least `length` floats long. */
  get(slot: number, length: number): Float32Array {
    if ((this.#buffers[slot]?.length ?? 0) < length) this.#buffers[slot] = new Float32Array(length);
    return this.#buffers[slot].subarray(0, length);
  }
}

/** out[p] = A[p]·B[p] (+ bias on every row), operands given by (batch, row, column) strides. */
export function matmul(
  blas: Blas,
  A: Float32Array,
  as: readonly [number, number, number],
  B: Float32Array,
  bs: readonly [number, number, number],
  batch: number,
  m: number,
  n: number,
  k: number,
  O: Float32Array,
  bias: Float32Array | null,
  invariant = false,
): void {
  const opA = gemmOperand(as[1], as[2], m, k), opB = gemmOperand(bs[1], bs[2], k, n);
  if (invariant) {
    // one sgemm per row, whatever m: a row's sums then never depend on how many rows share
    // the call (nor does the choice between sgemm and the loop, which ignores m here)
    if (!opB || k === 0 || as[2] < 1) {
      loopMatmul(A, as, B, bs, batch, m, n, k, O, bias);
      return;
    }
    for (let p = 0; p < batch; p++) {
      for (let i = 0; i < m; i++) {
        const at = p * as[0] + i * as[1];
        matmulRow(blas, A, at, as[2], B, p * bs[0], opB, n, k, O, (p * m + i) * n, bias);
      }
    }
    return;
  }
  if (!opA || !opB || k === 0 || m * n * k < BLAS_MIN_MACS) {
    loopMatmul(A, as, B, bs, batch, m, n, k, O, bias);
    return;
  }
  for (let p = 0; p < batch; p++) {
    const c = O.subarray(p * m * n, (p + 1) * m * n);
    if (bias) { for (let i = 0; i < m; i++) c.set(bias.subarray(0, n), i * n); }
    blas.sgemm(
      opA.trans,
      opB.trans,
      m,
      n,
      k,
      1,
      A.subarray(p * as[0]),
      opA.ld,
      B.subarray(p * bs[0]),
      opB.ld,
      bias ? 1 : 0,
      c,
      n,
    );
  }
}

/** out[row, :] = a·B (+ bias) for one row a of k elements at `at` with element stride `step`. */
function matmulRow(
  blas: Blas,
  A: Float32Array,
  at: number,
  step: number,
  B: Float32Array,
  bAt: number,
  opB: { trans: boolean; ld: number },
  n: number,
  k: number,
  O: Float32Array,
  row: number,
  bias: Float32Array | null,
): void {
  const c = O.subarray(row, row + n);
  if (bias) c.set(bias.subarray(0, n));
  // a [1, k] row: as a transposed [k, 1] operand its leading dimension is its element stride
  const a = A.subarray(at);
  const trans = step !== 1;
  blas.sgemm(
    trans,
    opB.trans,
    1,
    n,
    k,
    1,
    a,
    trans ? step : Math.max(k, 1),
    B.subarray(bAt),
    opB.ld,
    bias ? 1 : 0,
    c,
    n,
  );
}

function loopMatmul(
  A: Float32Array,
  as: readonly [number, number, number],
  B: Float32Array,
  bs: readonly [number, number, number],
  batch: number,
  m: number,
  n: number,
  k: number,
  O: Float32Array,
  bias: Float32Array | null,
): void {
  for (let p = 0; p < batch; p++) {
    for (let i = 0; i < m; i++) {
      const row = (p * m + i) * n;
      for (let j = 0; j < n; j++) O[row + j] = bias ? bias[j] : 0;
      for (let q = 0; q < k; q++) {
        const aiq = A[p * as[0] + i * as[1] + q * as[2]], bq = p * bs[0] + q * bs[1];
        if (aiq === 0) continue;
        for (let j = 0; j < n; j++) O[row + j] += aiq * B[bq + j * bs[2]];
      }
    }
  }
}

/** Images per group: as many as fit the column budget, at least one. */
function groupSize(g: ConvGeometry, invariant: boolean): number {
  if (invariant) return 1;
  const perImage = g.c * g.kh * g.kw * g.ho * g.wo;
  return Math.max(1, Math.min(g.n, Math.floor(COLUMN_BUDGET / Math.max(perImage, 1))));
}

/** The column matrix of images [i0, i0 + count) side by side: [C·kh·kw, count·Ho·Wo]. */
function groupColumns(
  X: Float32Array,
  i0: number,
  count: number,
  g: ConvGeometry,
  scratch: Scratch,
): Float32Array {
  const cols = g.ho * g.wo, width = count * cols, image = g.c * g.h * g.w;
  if (g.kh === 1 && g.kw === 1 && g.stride === 1 && g.padding === 0 && count === 1) {
    return X.subarray(i0 * image, (i0 + 1) * image); // a 1×1 kernel reads x as it is
  }
  const wide = scratch.get(0, g.c * g.kh * g.kw * width);
  for (let j = 0; j < count; j++) im2col(X, (i0 + j) * image, g, wide, width, j * cols);
  return wide;
}

/** [count, O, cols] images ⇄ an [O, count·cols] matrix (the layout of a grouped product). */
function toGrouped(src: Float32Array, count: number, o: number, cols: number, dst: Float32Array) {
  for (let j = 0; j < count; j++) {
    for (let c = 0; c < o; c++) {
      dst.set(
        src.subarray((j * o + c) * cols, (j * o + c + 1) * cols),
        c * count * cols + j * cols,
      );
    }
  }
}
function fromGrouped(src: Float32Array, count: number, o: number, cols: number, dst: Float32Array) {
  for (let j = 0; j < count; j++) {
    for (let c = 0; c < o; c++) {
      dst.set(
        src.subarray(c * count * cols + j * cols, c * count * cols + (j + 1) * cols),
        (j * o + c) * cols,
      );
    }
  }
}

/** y[n,o,i,j] = bias[o] + Σ x[n,c,i·s−p+a, j·s−p+b] w[o,c,a,b]. */
export function conv2d(
  blas: Blas,
  scratch: Scratch,
  X: Float32Array,
  W: Float32Array,
  g: ConvGeometry,
  Y: Float32Array,
  bias: Float32Array | null,
  invariant = false,
): void {
  if (shiftedApplies(g)) return conv2dShifted(blas, scratch, X, W, g, Y, bias, invariant);
  const cols = g.ho * g.wo, rows = g.c * g.kh * g.kw, per = groupSize(g, invariant);
  for (let i0 = 0; i0 < g.n; i0 += per) {
    const count = Math.min(per, g.n - i0), width = count * cols;
    const col = groupColumns(X, i0, count, g, scratch);
    const y = count === 1 ? Y.subarray(i0 * g.o * cols) : scratch.get(2, g.o * width);
    if (bias) { for (let o = 0; o < g.o; o++) y.fill(bias[o], o * width, (o + 1) * width); }
    blas.sgemm(false, false, g.o, width, rows, 1, W, rows, col, width, bias ? 1 : 0, y, width);
    if (count > 1) fromGrouped(y, count, g.o, cols, Y.subarray(i0 * g.o * cols));
  }
}

/** dx from dy [N, O, Ho, Wo] and w: col2im of Wᵀ·dy, several images per product. */
export function conv2dInputGrad(
  blas: Blas,
  scratch: Scratch,
  DY: Float32Array,
  W: Float32Array,
  g: ConvGeometry,
  DX: Float32Array,
  invariant = false,
): void {
  if (shiftedApplies(g)) return conv2dShiftedInputGrad(blas, scratch, DY, W, g, DX, invariant);
  const cols = g.ho * g.wo, rows = g.c * g.kh * g.kw, image = g.c * g.h * g.w;
  const per = groupSize(g, invariant);
  DX.fill(0, 0, g.n * image);
  for (let i0 = 0; i0 < g.n; i0 += per) {
    const count = Math.min(per, g.n - i0), width = count * cols;
    let dy = DY.subarray(i0 * g.o * cols);
    if (count > 1) {
      dy = scratch.get(2, g.o * width);
      toGrouped(DY.subarray(i0 * g.o * cols), count, g.o, cols, dy);
    }
    // dcol = Wᵀ·dy: [C·kh·kw, O] × [O, count·Ho·Wo]
    const dcol = scratch.get(0, rows * width);
    blas.sgemm(true, false, rows, width, g.o, 1, W, rows, dy, width, 0, dcol, width);
    for (let j = 0; j < count; j++) col2imAdd(dcol, g, DX, (i0 + j) * image, width, j * cols);
  }
}

/** dw[o,c,a,b] = Σ over images of dy·colᵀ. */
export function conv2dWeightGrad(
  blas: Blas,
  scratch: Scratch,
  X: Float32Array,
  DY: Float32Array,
  g: ConvGeometry,
  DW: Float32Array,
): void {
  if (shiftedApplies(g)) return conv2dShiftedWeightGrad(blas, scratch, X, DY, g, DW);
  const cols = g.ho * g.wo, rows = g.c * g.kh * g.kw, per = groupSize(g, false);
  if (g.n === 0) DW.fill(0, 0, g.o * rows);
  for (let i0 = 0; i0 < g.n; i0 += per) {
    const count = Math.min(per, g.n - i0), width = count * cols;
    const col = groupColumns(X, i0, count, g, scratch);
    let dy = DY.subarray(i0 * g.o * cols);
    if (count > 1) {
      dy = scratch.get(2, g.o * width);
      toGrouped(DY.subarray(i0 * g.o * cols), count, g.o, cols, dy);
    }
    // dW (+)= dy·colᵀ: [O, count·Ho·Wo] × [count·Ho·Wo, C·kh·kw]
    blas.sgemm(false, true, g.o, rows, width, 1, dy, width, col, width, i0 === 0 ? 0 : 1, DW, rows);
  }
}
