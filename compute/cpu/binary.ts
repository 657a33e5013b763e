/**
 * The cpu backend's broadcasting binary ops. After `strided.ts` simplifies the operands' views,
 * each row of the innermost axis runs one of four loops, chosen per row before it starts: both
 * operands contiguous (same-shape tensors, a last-axis bias), one of them a scalar for the row
 * (a per-channel bias over NCHW, a tensor times a number), or the general strided loop. The op
 * is a switch outside each loop, so the loop body is a single expression.
 */

import type { BinaryOp, View } from "../backend.ts";
import { contiguousStrides, sizeOf } from "../shape.ts";
import { exp } from "./exp.ts";
import { forEachBlock, simplify } from "./strided.ts";

/** out[i] = a[view a] op b[view b], i ranging over `shape` (broadcast by zero strides). */
export function binary(
  op: BinaryOp,
  A: Float32Array,
  av: View,
  B: Float32Array,
  bv: View,
  shape: readonly number[],
  O: Float32Array,
): void {
  if (sizeOf(shape) === 0) return;
  const layout = simplify(shape, [av.strides, bv.strides, contiguousStrides(shape)]);
  const { dims, strides: [sa, sb, so] } = layout, r = dims.length;
  const n1 = dims[r - 2], n0 = dims[r - 1];
  const a1 = sa[r - 2], a0 = sa[r - 1], b1 = sb[r - 2], b0 = sb[r - 1], o1 = so[r - 2];
  forEachBlock(layout, [av.offset, bv.offset, 0], ([a, b, o]) => {
    for (let j = 0; j < n1; j++) {
      const ra = a + j * a1, rb = b + j * b1, ro = o + j * o1;
      if (a0 === 1 && b0 === 1) rowSame(op, A, ra, B, rb, O, ro, n0);
      else if (a0 === 1 && b0 === 0) rowScalarB(op, A, ra, B[rb], O, ro, n0);
      else if (a0 === 0 && b0 === 1) rowScalarA(op, A[ra], B, rb, O, ro, n0);
      else rowStrided(op, A, ra, a0, B, rb, b0, O, ro, n0);
    }
  });
}

/** g · silu′(x) = g · σ(x) · (1 + x (1 − σ(x))) */
function siluGrad(x: number, g: number): number {
  const s = 1 / (1 + exp(-x));
  return g * s * (1 + x * (1 - s));
}

/** O[o + i] = A[a + i] op B[b + i] */
function rowSame(
  op: BinaryOp,
  A: Float32Array,
  a: number,
  B: Float32Array,
  b: number,
  O: Float32Array,
  o: number,
  n: number,
): void {
  const d = b - a, e = o - a, end = a + n;
  switch (op) {
    case "add":
      for (let i = a; i < end; i++) O[i + e] = A[i] + B[i + d];
      return;
    case "sub":
      for (let i = a; i < end; i++) O[i + e] = A[i] - B[i + d];
      return;
    case "mul":
      for (let i = a; i < end; i++) O[i + e] = A[i] * B[i + d];
      return;
    case "div":
      for (let i = a; i < end; i++) O[i + e] = A[i] / B[i + d];
      return;
    case "maximum":
      for (let i = a; i < end; i++) O[i + e] = A[i] >= B[i + d] ? A[i] : B[i + d];
      return;
    case "minimum":
      for (let i = a; i < end; i++) O[i + e] = A[i] <= B[i + d] ? A[i] : B[i + d];
      return;
    case "lt":
      for (let i = a; i < end; i++) O[i + e] = A[i] < B[i + d] ? 1 : 0;
      return;
    case "eq":
      for (let i = a; i < end; i++) O[i + e] = A[i] === B[i + d] ? 1 : 0;
      return;
    case "siluGrad":
      for (let i = a; i < end; i++) O[i + e] = siluGrad(A[i], B[i + d]);
      return;
  }
}

/** O[o + i] = A[a + i] op s */
function rowScalarB(
  op: BinaryOp,
  A: Float32Array,
  a: number,
  s: number,
  O: Float32Array,
  o: number,
  n: number,
): void {
  const e = o - a, end = a + n;
  switch (op) {
    case "add":
      for (let i = a; i < end; i++) O[i + e] = A[i] + s;
      return;
    case "sub":
      for (let i = a; i < end; i++) O[i + e] = A[i] - s;
      return;
    case "mul":
      for (let i = a; i < end; i++) O[i + e] = A[i] * s;
      return;
    case "div":
      for (let i = a; i < end; i++) O[i + e] = A[i] / s;
      return;
    case "maximum":
      for (let i = a; i < end; i++) O[i + e] = A[i] >= s ? A[i] : s;
      return;
    case "minimum":
      for (let i = a; i < end; i++) O[i + e] = A[i] <= s ? A[i] : s;
      return;
    case "lt":
      for (let i = a; i < end; i++) O[i + e] = A[i] < s ? 1 : 0;
      return;
    case "eq":
      for (let i = a; i < end; i++) O[i + e] = A[i] === s ? 1 : 0;
      return;
    case "siluGrad":
      for (let i = a; i < end; i++) O[i + e] = siluGrad(A[i], s);
      return;
  }
}

/** O[o + i] = s op B[b + i] */
function rowScalarA(
  op: BinaryOp,
  s: number,
  B: Float32Array,
  b: number,
  O: Float32Array,
  o: number,
  n: number,
): void {
  const e = o - b, end = b + n;
  switch (op) {
    case "add":
      for (let i = b; i < end; i++) O[i + e] = s + B[i];
      return;
    case "sub":
      for (let i = b; i < end; i++) O[i + e] = s - B[i];
      return;
    case "mul":
      for (let i = b; i < end; i++) O[i + e] = s * B[i];
      return;
    case "div":
      for (let i = b; i < end; i++) O[i + e] = s / B[i];
      return;
    case "maximum":
      for (let i = b; i < end; i++) O[i + e] = s >= B[i] ? s : B[i];
      return;
    case "minimum":
      for (let i = b; i < end; i++) O[i + e] = s <= B[i] ? s : B[i];
      return;
    case "lt":
      for (let i = b; i < end; i++) O[i + e] = s < B[i] ? 1 : 0;
      return;
    case "eq":
      for (let i = b; i < end; i++) O[i + e] = s === B[i] ? 1 : 0;
      return;
    case "siluGrad":
      for (let i = b; i < end; i++) O[i + e] = siluGrad(s, B[i]);
      return;
  }
}

/** O[o + i] = A[a + i·sa] op B[b + i·sb] */
function rowStrided(
  op: BinaryOp,
  A: Float32Array,
  a: number,
  sa: number,
  B: Float32Array,
  b: number,
  sb: number,
  O: Float32Array,
  o: number,
  n: number,
): void {
  const end = o + n;
  switch (op) {
    case "add":
      for (let i = o; i < end; i++, a += sa, b += sb) O[i] = A[a] + B[b];
      return;
    case "sub":
      for (let i = o; i < end; i++, a += sa, b += sb) O[i] = A[a] - B[b];
      return;
    case "mul":
      for (let i = o; i < end; i++, a += sa, b += sb) O[i] = A[a] * B[b];
      return;
    case "div":
      for (let i = o; i < end; i++, a += sa, b += sb) O[i] = A[a] / B[b];
      return;
    case "maximum":
      for (let i = o; i < end; i++, a += sa, b += sb) O[i] = A[a] >= B[b] ? A[a] : B[b];
      return;
    case "minimum":
      for (let i = o; i < end; i++, a += sa, b += sb) O[i] = A[a] <= B[b] ? A[a] : B[b];
      return;
    case "lt":
      for (let i = o; i < end; i++, a += sa, b += sb) O[i] = A[a] < B[b] ? 1 : 0;
      return;
    case "eq":
      for (let i = o; i < end; i++, a += sa, b += sb) O[i] = A[a] === B[b] ? 1 : 0;
      return;
    case "siluGrad":
      for (let i = o; i < end; i++, a += sa, b += sb) O[i] = siluGrad(A[a], B[b]);
      return;
  }
}
