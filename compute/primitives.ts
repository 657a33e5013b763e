/**
 * The primitive set: every differentiable operation is one of these (or composed of them).
 * Each function checks shapes, asks the backend for the kernel and records a tape node when
 * an input requires a gradient. The VJP of each lives in `autodiff/vjp_rules.ts`.
 */

import {
  type BinaryOp,
  type ConvGeometry,
  type DType,
  MAX_WEIGHTED_TERMS,
  type ReduceOp,
  type UnaryOp,
} from "./backend.ts";
import { isRecording } from "./autodiff/mode.ts";
import {
  broadcastShapes,
  broadcastStrides,
  checkRank,
  contiguousStrides,
  fmt,
  normalizeAxes,
  sameShape,
  type Shape,
  sizeOf,
} from "./shape.ts";
import { SharedStorage, Tensor } from "./tensor.ts";
import { constant } from "./constants.ts";

export type Prim =
  | UnaryOp
  | BinaryOp
  | "where"
  | ReduceOp
  | "reshape"
  | "permute"
  | "expand"
  | "slice"
  | "pad"
  | "concat"
  | "matmul"
  | "cast"
  | "cholesky"
  | "triangularSolve"
  | "normalizeRows"
  | "groupNorm"
  | "groupNormInputGrad"
  | "weightedSum"
  | "rowRstd"
  | "conv2d"
  | "conv2dInputGrad"
  | "conv2dWeightGrad";

export interface PrimParams extends Record<UnaryOp | BinaryOp | "where", null> {
  sum: { axes: number[] };
  max: { axes: number[] };
  reshape: { shape: number[] };
  permute: { perm: number[] };
  expand: { shape: number[] };
  slice: { starts: number[]; ends: number[] };
  pad: { before: number[]; after: number[] };
  concat: { axis: number };
  matmul: { transA: boolean; transB: boolean };
  cast: { dtype: DType };
  cholesky: null;
  normalizeRows: { eps: number };
  groupNorm: { groups: number; eps: number };
  groupNormInputGrad: { groups: number; eps: number };
  weightedSum: { weights: number[] };
  rowRstd: { eps: number };
  triangularSolve: { transpose: boolean };
  conv2d: ConvParams;
  conv2dInputGrad: ConvParams & { inputHW: [number, number] };
  conv2dWeightGrad: ConvParams & { kernelHW: [number, number] };
}

export interface ConvParams {
  stride: number;
  padding: number;
}

export type Operand = Tensor | number;

/** Allocates an uninitialised result on `like`'s backend. */
export function empty(like: Tensor, shape: Shape, dtype: DType = like.dtype): Tensor {
  const storage = like.backend.alloc(Math.max(1, sizeOf(shape)), dtype);
  return new Tensor(new SharedStorage(like.backend, storage), [...shape], dtype);
}

function record<P extends Prim>(
  out: Tensor,
  prim: P,
  inputs: Tensor[],
  params: PrimParams[P],
): Tensor {
  if (isRecording() && inputs.some((t) => t.requiresGrad)) out.node = { prim, inputs, params };
  return out;
}

function asTensor(x: Operand, like: Tensor): Tensor {
  return typeof x === "number" ? constant(like.backend, x, like.dtype) : x;
}

function pickLike(op: string, ...xs: Operand[]): Tensor {
  const t = xs.find((x): x is Tensor => typeof x !== "number");
  if (!t) throw new Error(`${op}: at least one operand must be a tensor`);
  for (const x of xs) {
    if (typeof x === "number") continue;
    if (x.dtype !== t.dtype) {
      throw new Error(`${op}: dtypes ${t.dtype} and ${x.dtype} differ; cast first`);
    }
    if (x.backend !== t.backend) {
      throw new Error(
        `${op}: operands live on different backends (${t.backend.name}, ${x.backend.name})`,
      );
    }
  }
  return t;
}

export function unary(op: UnaryOp, x: Tensor): Tensor {
  const out = empty(x, x.shape);
  x.backend.unary(op, x.storage, out.storage);
  return record(out, op, [x], null);
}

export function binary(op: BinaryOp, a0: Operand, b0: Operand): Tensor {
  const like = pickLike(op, a0, b0);
  const a = asTensor(a0, like), b = asTensor(b0, like);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = empty(like, shape);
  like.backend.binary(
    op,
    a.storage,
    { offset: 0, strides: broadcastStrides(a.shape, shape) },
    b.storage,
    { offset: 0, strides: broadcastStrides(b.shape, shape) },
    shape,
    out.storage,
  );
  return record(out, op, [a, b], null);
}

/** Elementwise `cond != 0 ? a : b` with broadcasting; `cond` carries no gradient. */
export function where(cond: Tensor, a0: Operand, b0: Operand): Tensor {
  const like = pickLike("where", cond, a0, b0);
  const a = asTensor(a0, like), b = asTensor(b0, like);
  const shape = broadcastShapes("where", cond.shape, a.shape, b.shape);
  const out = empty(like, shape);
  const view = (t: Tensor) => ({ offset: 0, strides: broadcastStrides(t.shape, shape) });
  like.backend.where(
    cond.storage,
    view(cond),
    a.storage,
    view(a),
    b.storage,
    view(b),
    shape,
    out.storage,
  );
  return record(out, "where", [cond, a, b], null);
}

/** Sum or max over `axes` (all when omitted); reduced axes are removed from the shape. */
export function reduce(op: ReduceOp, x: Tensor, axes?: readonly number[]): Tensor {
  const ax = axes === undefined ? x.shape.map((_, i) => i) : normalizeAxes(op, axes, x.shape);
  if (op === "max" && ax.some((a) => x.shape[a] === 0)) {
    throw new Error(`max: empty axis in ${fmt(x.shape)}`);
  }
  const shape = x.shape.filter((_, i) => !ax.includes(i));
  const out = empty(x, shape);
  x.backend.reduce(op, x.storage, [...x.shape], [...ax].sort((p, q) => p - q), out.storage);
  return record(out, op, [x], { axes: ax });
}

/** Same elements, new shape; shares storage (no copy). One dimension may be −1. */
export function reshape(x: Tensor, shape0: readonly number[]): Tensor {
  const shape = [...shape0];
  const hole = shape.indexOf(-1);
  if (hole >= 0) shape[hole] = x.size / sizeOf(shape.filter((_, i) => i !== hole));
  if (sizeOf(shape) !== x.size || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`reshape: cannot view ${fmt(x.shape)} (${x.size} elements) as ${fmt(shape0)}`);
  }
  checkRank("reshape", shape);
  x.shared.refs++;
  const out = new Tensor(x.shared, shape, x.dtype);
  return record(out, "reshape", [x], { shape });
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const p = normalizeAxes("permute", perm, x.shape);
  if (p.length !== x.rank) {
    throw new Error(`permute: ${fmt(perm)} is not a permutation of ${x.rank} axes`);
  }
  const shape = p.map((a) => x.shape[a]);
  const own = contiguousStrides(x.shape);
  const out = empty(x, shape);
  x.backend.copy(
    x.storage,
    { offset: 0, strides: p.map((a) => own[a]) },
    out.storage,
    { offset: 0, strides: contiguousStrides(shape) },
    shape,
  );
  return record(out, "permute", [x], { perm: p });
}

/** Broadcasts to `shape` (materialised: tensors are always contiguous). */
export function expand(x: Tensor, shape0: readonly number[]): Tensor {
  const shape = broadcastShapes("expand", x.shape, shape0);
  if (shape.length !== shape0.length || shape.some((d, i) => d !== shape0[i])) {
    throw new Error(`expand: ${fmt(x.shape)} cannot be expanded to ${fmt(shape0)}`);
  }
  const out = empty(x, shape);
  x.backend.copy(
    x.storage,
    { offset: 0, strides: broadcastStrides(x.shape, shape) },
    out.storage,
    { offset: 0, strides: contiguousStrides(shape) },
    shape,
  );
  return record(out, "expand", [x], { shape });
}

/** `x[starts[0]:ends[0], …]` with unit steps. */
export function slice(x: Tensor, starts: readonly number[], ends: readonly number[]): Tensor {
  if (starts.length !== x.rank || ends.length !== x.rank) {
    throw new Error(
      `slice: need ${x.rank} starts and ends for ${fmt(x.shape)}, got ${fmt(starts)}:${fmt(ends)}`,
    );
  }
  for (let d = 0; d < x.rank; d++) {
    if (!(0 <= starts[d] && starts[d] <= ends[d] && ends[d] <= x.shape[d])) {
      throw new Error(
        `slice: range ${starts[d]}:${ends[d]} is outside axis ${d} of ${fmt(x.shape)}`,
      );
    }
  }
  const shape = starts.map((s, d) => ends[d] - s);
  const own = contiguousStrides(x.shape);
  const out = empty(x, shape);
  if (out.size > 0) {
    x.backend.copy(
      x.storage,
      { offset: starts.reduce((o, s, d) => o + s * own[d], 0), strides: own },
      out.storage,
      { offset: 0, strides: contiguousStrides(shape) },
      shape,
    );
  }
  return record(out, "slice", [x], { starts: [...starts], ends: [...ends] });
}

/** Zero padding: `before[d]` and `after[d]` zeros around axis d. */
export function pad(x: Tensor, before: readonly number[], after: readonly number[]): Tensor {
  if (
    before.length !== x.rank || after.length !== x.rank || [...before, ...after].some((p) => p < 0)
  ) {
    throw new Error(`pad: need ${x.rank} non-negative pads before and after for ${fmt(x.shape)}`);
  }
  const shape = x.shape.map((d, i) => d + before[i] + after[i]);
  const out = empty(x, shape);
  x.backend.fill(out.storage, 0);
  const os = contiguousStrides(shape);
  if (x.size > 0) {
    x.backend.copy(
      x.storage,
      { offset: 0, strides: contiguousStrides(x.shape) },
      out.storage,
      { offset: before.reduce((o, p, d) => o + p * os[d], 0), strides: os },
      [...x.shape],
    );
  }
  return record(out, "pad", [x], { before: [...before], after: [...after] });
}

export function concat(xs: readonly Tensor[], axis0: number): Tensor {
  if (xs.length === 0) throw new Error("concat: no tensors given");
  const like = pickLike("concat", ...xs);
  const [axis] = normalizeAxes("concat", [axis0], like.shape);
  for (const x of xs) {
    if (x.rank !== like.rank || x.shape.some((d, i) => i !== axis && d !== like.shape[i])) {
      throw new Error(
        `concat: shapes ${xs.map((t) => fmt(t.shape)).join(", ")} differ off axis ${axis}`,
      );
    }
  }
  const shape = [...like.shape];
  shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
  const out = empty(like, shape);
  const os = contiguousStrides(shape);
  let at = 0;
  for (const x of xs) {
    if (x.size > 0) {
      like.backend.copy(
        x.storage,
        { offset: 0, strides: contiguousStrides(x.shape) },
        out.storage,
        { offset: at * os[axis], strides: os },
        [...x.shape],
      );
    }
    at += x.shape[axis];
  }
  return record(out, "concat", [...xs], { axis });
}

/**
 * op(a) · op(b) over matching leading batch axes, where op transposes the last two axes
 * when asked; transposes cost nothing (they are strides).
 */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  return product(a, b, transA, transB, null);
}

/** a · b + bias, the bias [n] added to every row as the product is stored (one kernel). */
export function matmulBias(a: Tensor, b: Tensor, bias: Tensor): Tensor {
  return product(a, b, false, false, bias);
}

function product(a: Tensor, b: Tensor, transA: boolean, transB: boolean, bias: Tensor | null) {
  pickLike("matmul", a, b, ...(bias ? [bias] : []));
  const bad = () =>
    new Error(
      `matmul: ${fmt(a.shape)}${transA ? "ᵀ" : ""} and ${fmt(b.shape)}${
        transB ? "ᵀ" : ""
      } do not multiply`,
    );
  if (a.rank < 2 || a.rank !== b.rank) throw bad();
  const r = a.rank;
  const batchShape = a.shape.slice(0, r - 2);
  if (b.shape.slice(0, r - 2).some((d, i) => d !== batchShape[i])) throw bad();
  const [m, k] = transA ? [a.shape[r - 1], a.shape[r - 2]] : [a.shape[r - 2], a.shape[r - 1]];
  const [k2, n] = transB ? [b.shape[r - 1], b.shape[r - 2]] : [b.shape[r - 2], b.shape[r - 1]];
  if (k !== k2) throw bad();
  if (bias && (bias.rank !== 1 || bias.shape[0] !== n)) {
    throw new Error(`matmulBias: bias ${fmt(bias.shape)} does not match [${n}] columns`);
  }
  const batch = sizeOf(batchShape);
  const out = empty(a, [...batchShape, m, n]);
  const ar = a.shape[r - 1], br = b.shape[r - 1];
  const aS = (transA ? [a.shape[r - 2] * ar, 1, ar] : [a.shape[r - 2] * ar, ar, 1]) as [
    number,
    number,
    number,
  ];
  const bS = (transB ? [b.shape[r - 2] * br, 1, br] : [b.shape[r - 2] * br, br, 1]) as [
    number,
    number,
    number,
  ];
  if (out.size > 0) {
    a.backend.matmul(a.storage, aS, b.storage, bS, batch, m, n, k, out.storage, bias?.storage);
  }
  return record(out, "matmul", bias ? [a, b, bias] : [a, b], { transA, transB });
}

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  if (!x.backend.supports(dtype)) {
    throw new Error(`cast: backend ${x.backend.name} has no ${dtype}`);
  }
  const out = empty(x, x.shape, dtype);
  x.backend.cast(x.storage, out.storage);
  return record(out, "cast", [x], { dtype });
}

function squareBatch(op: string, a: Tensor): { batch: number; r: number } {
  const r = a.shape[a.rank - 1];
  if (a.rank < 2 || a.shape[a.rank - 2] !== r) {
    throw new Error(`${op}: need [..., r, r] matrices, got ${fmt(a.shape)}`);
  }
  return { batch: a.size / (r * r), r };
}

/**
 * Lower Cholesky factor L (L Lᵀ = A) of symmetric positive definite matrices [..., r, r];
 * reads A's lower triangle. A matrix that is not positive definite gives NaN.
 */
export function cholesky(a: Tensor): Tensor {
  const { batch, r } = squareBatch("cholesky", a);
  const out = empty(a, a.shape);
  if (out.size > 0) a.backend.cholesky(a.storage, batch, r, out.storage);
  return record(out, "cholesky", [a], null);
}

/**
 * Standardises each row (the last axis): (x − μ) · (σ² + eps)^(−1/2), σ² the biased variance.
 * One fused kernel where the composed form takes eight elementwise passes and two reductions.
 */
export function normalizeRows(x: Tensor, eps: number): Tensor {
  const cols = lastAxis("normalizeRows", x), out = empty(x, x.shape);
  if (out.size > 0) x.backend.normalizeRows(x.storage, x.size / cols, cols, eps, out.storage);
  return record(out, "normalizeRows", [x], { eps });
}

/**
 * Group normalisation (Wu & He 2018) of x [N, C, …] with a per-channel affine map γ, β [C]:
 * statistics over each group of C/groups channels and all positions. One fused kernel.
 */
export function groupNorm(
  x: Tensor,
  groups: number,
  gamma: Tensor,
  beta: Tensor,
  eps = 1e-5,
): Tensor {
  pickLike("groupNorm", x, gamma);
  pickLike("groupNorm", x, beta);
  const [n, c] = x.shape;
  if (x.rank < 2 || c % groups !== 0) {
    throw new Error(`groupNorm: ${fmt(x.shape)} does not split its channels into ${groups} groups`);
  }
  if (gamma.rank !== 1 || gamma.shape[0] !== c || beta.rank !== 1 || beta.shape[0] !== c) {
    throw new Error(
      `groupNorm: γ ${fmt(gamma.shape)} and β ${fmt(beta.shape)} must both be [${c}] for ${
        fmt(x.shape)
      }`,
    );
  }
  const out = empty(x, x.shape);
  if (out.size > 0) {
    const spatial = x.size / (n * c);
    x.backend.groupNorm(x.storage, gamma.storage, beta.storage, {
      n,
      channels: c,
      spatial,
      groups,
      eps,
    }, out.storage);
  }
  return record(out, "groupNorm", [x, gamma, beta], { groups, eps });
}

/**
 * groupNorm(x, groups, γ, β, eps)'s gradient in x for the output cotangent dy, in one kernel.
 * First order only (it has no VJP of its own): groupNorm's VJP takes it when no graph is being
 * recorded, and composes differentiable ops when one is.
 */
export function groupNormInputGrad(
  x: Tensor,
  groups: number,
  gamma: Tensor,
  dy: Tensor,
  eps = 1e-5,
): Tensor {
  pickLike("groupNormInputGrad", x, gamma, dy);
  const [n, c] = x.shape;
  if (x.rank < 2 || c % groups !== 0 || gamma.size !== c || !sameShape(x.shape, dy.shape)) {
    throw new Error(
      `groupNormInputGrad: x ${fmt(x.shape)}, γ ${fmt(gamma.shape)}, dy ${
        fmt(dy.shape)
      } in ${groups} groups`,
    );
  }
  const out = empty(x, x.shape);
  if (out.size > 0) {
    const geometry = { n, channels: c, spatial: x.size / (n * c), groups, eps };
    x.backend.groupNormInputGrad(x.storage, gamma.storage, dy.storage, geometry, out.storage);
  }
  return record(out, "groupNormInputGrad", [x, gamma, dy], { groups, eps });
}

/**
 * Σ_j weights[j] · terms[j] for terms of one shape, in one kernel per MAX_WEIGHTED_TERMS terms
 * (more are folded in by further calls): a Runge–Kutta stage's combination of its slopes.
 */
export function weightedSum(terms: Tensor[], weights: readonly number[]): Tensor {
  if (terms.length === 0 || terms.length !== weights.length) {
    throw new Error(
      `weightedSum: ${terms.length} terms and ${weights.length} weights (need as many, at least one)`,
    );
  }
  const like = pickLike("weightedSum", ...terms);
  for (const t of terms) {
    if (!sameShape(t.shape, like.shape)) {
      throw new Error(`weightedSum: terms ${fmt(like.shape)} and ${fmt(t.shape)} differ in shape`);
    }
  }
  if (terms.length > MAX_WEIGHTED_TERMS) {
    const head = weightedSum(
      terms.slice(0, MAX_WEIGHTED_TERMS),
      weights.slice(0, MAX_WEIGHTED_TERMS),
    );
    return weightedSum(
      [head, ...terms.slice(MAX_WEIGHTED_TERMS)],
      [1, ...weights.slice(MAX_WEIGHTED_TERMS)],
    );
  }
  const out = empty(like, like.shape);
  if (out.size > 0) {
    like.backend.weightedSum(terms.map((t) => t.storage), weights, out.size, out.storage);
  }
  return record(out, "weightedSum", terms, { weights: [...weights] });
}

/** (σ² + eps)^(−1/2) of each row (the last axis), kept as a size-1 last axis. */
export function rowRstd(x: Tensor, eps: number): Tensor {
  const cols = lastAxis("rowRstd", x), out = empty(x, [...x.shape.slice(0, -1), 1]);
  if (out.size > 0) x.backend.rowRstd(x.storage, x.size / cols, cols, eps, out.storage);
  return record(out, "rowRstd", [x], { eps });
}

function lastAxis(op: string, x: Tensor): number {
  const cols = x.shape[x.rank - 1];
  if (x.rank === 0 || cols === 0) {
    throw new Error(`${op}: needs a non-empty last axis, got ${fmt(x.shape)}`);
  }
  return cols;
}

/** X with op(L) X = B for lower-triangular L [..., r, r], B [..., r, m]; op = ᵀ when `transpose`. */
export function triangularSolve(l: Tensor, b: Tensor, transpose = false): Tensor {
  pickLike("triangularSolve", l, b);
  const { batch, r } = squareBatch("triangularSolve", l);
  const m = b.shape[b.rank - 1];
  if (
    b.rank !== l.rank || b.shape[b.rank - 2] !== r ||
    b.shape.slice(0, -2).some((d, i) => d !== l.shape[i])
  ) {
    throw new Error(`triangularSolve: L ${fmt(l.shape)} and B ${fmt(b.shape)} do not match`);
  }
  const out = empty(b, b.shape);
  if (out.size > 0) {
    l.backend.triangularSolve(l.storage, b.storage, batch, r, m, transpose, out.storage);
  }
  return record(out, "triangularSolve", [l, b], { transpose });
}

function convGeometry(
  op: string,
  n: number,
  c: number,
  hw: readonly number[],
  o: number,
  khw: readonly number[],
  p: ConvParams,
): ConvGeometry {
  const [h, w] = hw, [kh, kw] = khw;
  if (
    !(Number.isInteger(p.stride) && p.stride >= 1 && Number.isInteger(p.padding) && p.padding >= 0)
  ) {
    throw new Error(
      `${op}: stride must be ≥ 1 and padding ≥ 0 (integers), got ${p.stride} and ${p.padding}`,
    );
  }
  const ho = Math.floor((h + 2 * p.padding - kh) / p.stride) + 1;
  const wo = Math.floor((w + 2 * p.padding - kw) / p.stride) + 1;
  if (ho < 1 || wo < 1) {
    throw new Error(`${op}: a ${kh}×${kw} kernel does not fit a padded ${h}×${w} input`);
  }
  return { n, c, h, w, o, kh, kw, stride: p.stride, padding: p.padding, ho, wo };
}

/** 2-D cross-correlation of x [N, C, H, W] with w [O, C, kh, kw] (no bias): [N, O, Ho, Wo]. */
export function conv2d(x: Tensor, w: Tensor, p: ConvParams, bias?: Tensor): Tensor {
  pickLike("conv2d", x, w, ...(bias ? [bias] : []));
  if (x.rank !== 4 || w.rank !== 4 || x.shape[1] !== w.shape[1]) {
    throw new Error(
      `conv2d: input ${fmt(x.shape)} and weights ${
        fmt(w.shape)
      } need [N, C, H, W] and [O, C, kh, kw]`,
    );
  }
  const g = convGeometry(
    "conv2d",
    x.shape[0],
    x.shape[1],
    x.shape.slice(2),
    w.shape[0],
    w.shape.slice(2),
    p,
  );
  if (bias && (bias.rank !== 1 || bias.shape[0] !== g.o)) {
    throw new Error(`conv2d: bias ${fmt(bias.shape)} must be [${g.o}], one per output channel`);
  }
  const out = empty(x, [g.n, g.o, g.ho, g.wo]);
  x.backend.conv2d(x.storage, w.storage, g, out.storage, bias?.storage);
  const inputs = bias ? [x, w, bias] : [x, w];
  return record(out, "conv2d", inputs, { stride: p.stride, padding: p.padding });
}

/** The gradient of conv2d in its input: dy [N, O, Ho, Wo], w → dx [N, C, H, W]. */
export function conv2dInputGrad(
  dy: Tensor,
  w: Tensor,
  p: ConvParams & { inputHW: [number, number] },
): Tensor {
  pickLike("conv2dInputGrad", dy, w);
  const g = convGeometry(
    "conv2dInputGrad",
    dy.shape[0],
    w.shape[1],
    p.inputHW,
    w.shape[0],
    w.shape.slice(2),
    p,
  );
  if (dy.rank !== 4 || dy.shape[1] !== g.o || dy.shape[2] !== g.ho || dy.shape[3] !== g.wo) {
    throw new Error(
      `conv2dInputGrad: gradient ${fmt(dy.shape)} does not match weights ${fmt(w.shape)}`,
    );
  }
  const out = empty(dy, [g.n, g.c, g.h, g.w]);
  dy.backend.conv2dInputGrad(dy.storage, w.storage, g, out.storage);
  return record(out, "conv2dInputGrad", [dy, w], {
    stride: p.stride,
    padding: p.padding,
    inputHW: p.inputHW,
  });
}

/** The gradient of conv2d in its weights: x, dy → dw [O, C, kh, kw]. */
export function conv2dWeightGrad(
  x: Tensor,
  dy: Tensor,
  p: ConvParams & { kernelHW: [number, number] },
): Tensor {
  pickLike("conv2dWeightGrad", x, dy);
  const g = convGeometry(
    "conv2dWeightGrad",
    x.shape[0],
    x.shape[1],
    x.shape.slice(2),
    dy.shape[1],
    p.kernelHW,
    p,
  );
  if (dy.rank !== 4 || dy.shape[0] !== g.n || dy.shape[2] !== g.ho || dy.shape[3] !== g.wo) {
    throw new Error(
      `conv2dWeightGrad: gradient ${fmt(dy.shape)} does not match input ${fmt(x.shape)}`,
    );
  }
  const out = empty(x, [g.o, g.c, g.kh, g.kw]);
  x.backend.conv2dWeightGrad(x.storage, dy.storage, g, out.storage);
  return record(out, "conv2dWeightGrad", [x, dy], {
    stride: p.stride,
    padding: p.padding,
    kernelHW: p.kernelHW,
  });
}
