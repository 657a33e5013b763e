/** Named elementwise, reduction and movement ops over the primitives (the everyday API). */

import {
  binary,
  cast,
  concat,
  expand,
  matmul,
  matmulBias,
  type Operand,
  pad,
  permute,
  reduce,
  reshape,
  slice,
  unary,
  weightedSum,
  where,
} from "../primitives.ts";
import { normalizeAxes, sameShape, type Shape, sizeOf } from "../shape.ts";
import type { Tensor } from "../tensor.ts";

export {
  cast,
  concat,
  expand,
  matmul,
  matmulBias,
  pad,
  permute,
  reshape,
  slice,
  weightedSum,
  where,
};

export const neg = (x: Tensor) => unary("neg", x);
export const exp = (x: Tensor) => unary("exp", x);
export const log = (x: Tensor) => unary("log", x);
export const sin = (x: Tensor) => unary("sin", x);
export const cos = (x: Tensor) => unary("cos", x);
export const sqrt = (x: Tensor) => unary("sqrt", x);
export const recip = (x: Tensor) => unary("recip", x);
export const tanh = (x: Tensor) => unary("tanh", x);
export const sigmoid = (x: Tensor) => unary("sigmoid", x);
export const abs = (x: Tensor) => unary("abs", x);
export const sign = (x: Tensor) => unary("sign", x);

export const add = (a: Operand, b: Operand) => binary("add", a, b);
export const sub = (a: Operand, b: Operand) => binary("sub", a, b);
export const mul = (a: Operand, b: Operand) => binary("mul", a, b);
export const div = (a: Operand, b: Operand) => binary("div", a, b);
export const maximum = (a: Operand, b: Operand) => binary("maximum", a, b);
export const minimum = (a: Operand, b: Operand) => binary("minimum", a, b);
/** 1 where a < b, else 0 (no gradient). */
export const lt = (a: Operand, b: Operand) => binary("lt", a, b);
/** 1 where a == b, else 0 (no gradient). */
export const eq = (a: Operand, b: Operand) => binary("eq", a, b);

export const square = (x: Tensor) => binary("mul", x, x);

/** Sum over `axes` (all when omitted), optionally keeping them as size-1 axes. */
export function sum(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
  const s = reduce("sum", x, axes);
  return keepDims ? reshape(s, keptShape(x.shape, axes)) : s;
}

export function max(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
  const s = reduce("max", x, axes);
  return keepDims ? reshape(s, keptShape(x.shape, axes)) : s;
}

export function mean(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
  const ax = axes ?? x.shape.map((_, i) => i);
  const count = sizeOf(normalizeAxes("mean", ax, x.shape).map((a) => x.shape[a]));
  return mul(sum(x, ax, keepDims), 1 / count);
}

/** The shape `x` would have after reducing `axes` with size-1 axes kept. */
export function keptShape(shape: Shape, axes?: readonly number[]): number[] {
  const ax = axes === undefined ? shape.map((_, i) => i) : normalizeAxes("reduce", axes, shape);
  return shape.map((d, i) => (ax.includes(i) ? 1 : d));
}

/** Sums a broadcast result back to `shape` (the adjoint of broadcasting). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  return reshape(reduce("sum", g, axes), shape);
}

/** Sum over every axis but the first: one value per example. */
export function sumPerExample(x: Tensor): Tensor {
  return x.rank <= 1 ? x : sum(x, x.shape.slice(1).map((_, i) => i + 1));
}

/** The inverse permutation of `perm`. */
export function inversePermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** Swaps the last two axes. */
export function transpose(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return permute(x, perm);
}

/** 1 where a > b, else 0. */
export const gt = (a: Operand, b: Operand) => binary("lt", b, a);
/** 1 where a ≥ b, else 0. */
export const ge = (a: Operand, b: Operand) => sub(1, binary("lt", a, b));
/** 1 where a ≤ b, else 0. */
export const le = (a: Operand, b: Operand) => sub(1, binary("lt", b, a));

/** a^b = exp(b ln a) for a > 0 (NaN elsewhere, on both backends alike); use `square`/`mul` for integer powers. */
export function pow(a: Tensor, b: Operand): Tensor {
  return exp(mul(b, log(a)));
}
