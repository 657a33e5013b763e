/**
 * The case table of `parity_test.ts`: every primitive and every composed op, on broadcast,
 * non-contiguous (fed through permute or slice) and odd-sized inputs. A case names its inputs'
 * shapes and kinds (how valid values are drawn) and the function under test. Primitives' cases
 * are keyed by primitive: one without a case does not type-check.
 */

import * as C from "../../compute/mod.ts";
import type { Tensor } from "../../compute/mod.ts";
import type { Prim } from "../../compute/primitives.ts";
import { sinusoidalEmbedding } from "../../nn/time_embedding.ts";
import { linear as dense } from "../../nn/linear.ts";
import { tol, type Tolerance } from "../_helpers/tolerances.ts";

export const families = [
  "elementwise",
  "reductions & movement",
  "matmul",
  "linear algebra",
  "convolution",
  "composed",
] as const;
export type Family = (typeof families)[number];

/**
 * normal N(0, 1) · positive [0.5, 2.5) (log, sqrt, recip, divisors, pow bases) · unit [0, 1) ·
 * int {−2, …, 2} (ties for comparisons and max) · mask 1, 0, 1, … (where takes both branches) ·
 * spd M Mᵀ/r + I · lower: lower-triangular, diagonal ≥ 1, small off-diagonal (well-conditioned).
 */
export type Kind = "normal" | "positive" | "unit" | "int" | "mask" | "spd" | "lower";

export interface Input {
  shape: number[];
  kind: Kind;
}

export interface Case {
  name: string;
  family: Family;
  inputs: Input[];
  f: (...xs: Tensor[]) => Tensor;
  /** (Piecewise) linear in each input alone: its second order is 0, so that check runs on f². */
  linear?: boolean;
  /** No gradient at any order (comparisons, sign): gradients must be exactly zero. */
  noGrad?: boolean;
  /** Looser named tolerances, where a case needs them. */
  tol?: { value?: Tolerance; grad?: Tolerance; grad2?: Tolerance };
  /** Step of the float64 central-difference check (default 1e-5). */
  eps?: number;
}

const input = (kind: Kind) => (...shape: number[]): Input => ({ shape, kind });
const N = input("normal"), P = input("positive"), U = input("unit");
const I = input("int"), M = input("mask"), S = input("spd"), L = input("lower");

type Opts = Pick<Case, "linear" | "noGrad" | "tol" | "eps">;
const lin: Opts = { linear: true }, none: Opts = { noGrad: true };

type Row = [string, Input[], Case["f"], Opts?];
/** At least one case. */
type Cases = [Case, ...Case[]];

function group(family: Family, rows: [Row, ...Row[]]): Cases {
  const [first, ...rest] = rows.map(([name, inputs, f, opts]) => ({
    name,
    family,
    inputs,
    f,
    ...opts,
  }));
  return [first, ...rest];
}

const T = (x: Tensor) => C.permute(x, [1, 0]);
/** Σ 2^i·tᵢ: several 0/1 outputs in one tensor, each still checked exactly. */
const weighted = (...ts: Tensor[]) => ts.reduce((s, t, i) => C.add(s, C.mul(t, 2 ** i)));

/** Each primitive's cases. */
export const primitiveCases: Record<Prim, Cases> = {
  neg: group("elementwise", [["neg [1]", [N(1)], C.neg, lin]]),
  exp: group("elementwise", [
    ["exp [17]", [N(17)], C.exp],
    ["exp of a permuted view", [N(3, 4)], (x) => C.exp(T(x))],
  ]),
  log: group("elementwise", [
    ["log [3]", [P(3)], C.log],
    ["log of a slice", [P(4, 5)], (x) => C.log(C.slice(x, [1, 1], [4, 4]))],
  ]),
  sin: group("elementwise", [["sin [2,3]", [N(2, 3)], C.sin]]),
  cos: group("elementwise", [["cos [3,5]", [N(3, 5)], C.cos]]),
  sqrt: group("elementwise", [["sqrt [4,3]", [P(4, 3)], C.sqrt]]),
  recip: group("elementwise", [["recip [17]", [P(17)], C.recip]]),
  tanh: group("elementwise", [["tanh [1000]", [N(1000)], C.tanh]]),
  sigmoid: group("elementwise", [["sigmoid [2,3,3]", [N(2, 3, 3)], C.sigmoid]]),
  silu: group("composed", [
    ["silu [17]", [N(17)], C.silu],
    ["silu [4,8] (four-wide kernel)", [N(4, 8)], (x) => C.silu(C.mul(x, 4))],
  ]),
  abs: group("elementwise", [["abs [3,5]", [N(3, 5)], C.abs, lin]]),
  sign: group("elementwise", [["sign [3,5] with zeros", [I(3, 5)], C.sign, none]]),
  add: group("elementwise", [["add [3,1] + [1,4]", [N(3, 1), N(1, 4)], C.add, lin]]),
  sub: group("elementwise", [["sub [] − [2,3]", [N(), N(2, 3)], C.sub, lin]]),
  mul: group("elementwise", [
    ["mul [4] · [2,3,4] (rank mismatch)", [N(4), N(2, 3, 4)], C.mul],
    ["mul and add with numbers", [N(3)], (x) => C.add(C.mul(x, -1.5), 0.25), lin],
  ]),
  div: group("elementwise", [
    ["div [2,3] / [3]", [N(2, 3), P(3)], C.div],
    ["div 2 / x", [P(5)], (x) => C.div(2, x)],
  ]),
  maximum: group("elementwise", [
    ["maximum [3,1], [1,4]", [N(3, 1), N(1, 4)], C.maximum, lin],
    [
      "maximum and minimum with ties",
      [I(3, 4), I(3, 4)],
      (a, b) => C.add(C.maximum(a, b), C.mul(C.minimum(a, b), 0.5)),
      lin,
    ],
  ]),
  minimum: group("elementwise", [
    ["minimum of a permuted view", [N(4, 3), N(3, 4)], (a, b) => C.minimum(T(a), b), lin],
  ]),
  lt: group("elementwise", [["lt with ties", [I(3, 4), I(3, 4)], C.lt, none]]),
  eq: group("elementwise", [["eq [3,1], [1,4] with ties", [I(3, 1), I(1, 4)], C.eq, none]]),
  siluGrad: group("composed", [
    ["siluGrad [17] (one-wide)", [N(17), N(17)], (x, g) => C.siluGrad(C.mul(x, 4), g)],
    ["siluGrad [4,8] with a row-broadcast g", [N(4, 8), N(8)], (x, g) => C.siluGrad(x, g)],
  ]),
  where: group("elementwise", [
    ["where(mask [3,1], [1,4], [3,4])", [M(3, 1), N(1, 4), N(3, 4)], C.where, lin],
    [
      "where(mask, slice, number)",
      [M(2, 3), N(2, 5)],
      (m, x) => C.where(m, C.slice(x, [0, 1], [2, 4]), -0.5),
      lin,
    ],
  ]),
  sum: group("reductions & movement", [
    ["sum all [1000]", [N(1000)], (x) => C.sum(x), lin],
    ["sum [1] of [3,4,5]", [N(3, 4, 5)], (x) => C.sum(x, [1]), lin],
    [
      "sum [0,2] of a permuted view",
      [N(4, 3, 5)],
      (x) => C.sum(C.permute(x, [1, 2, 0]), [0, 2]),
      lin,
    ],
    ["sum [0] of [1,3]", [N(1, 3)], (x) => C.sum(x, [0]), lin],
  ]),
  max: group("reductions & movement", [
    ["max all [17]", [N(17)], (x) => C.max(x), lin],
    ["max [1] of [3,4,5], all negative", [N(3, 4, 5)], (x) => C.max(C.sub(x, 4), [1]), lin],
    [
      "max [2,0] keepDims of a slice",
      [N(3, 5, 5)],
      (x) => C.max(C.slice(x, [0, 1, 0], [3, 5, 4]), [2, 0], true),
      lin,
    ],
    ["max [1] with ties", [I(3, 4)], (x) => C.max(x, [1]), lin],
  ]),
  reshape: group("reductions & movement", [
    ["reshape [2,3,4] → [4,−1]", [N(2, 3, 4)], (x) => C.reshape(x, [4, -1]), lin],
  ]),
  permute: group("reductions & movement", [
    ["permute [2,3,4] by [2,0,1]", [N(2, 3, 4)], (x) => C.permute(x, [2, 0, 1]), lin],
  ]),
  expand: group("reductions & movement", [
    ["expand [3,1] → [2,3,4]", [N(3, 1)], (x) => C.expand(x, [2, 3, 4]), lin],
    ["expand [] → [2,3]", [N()], (x) => C.expand(x, [2, 3]), lin],
  ]),
  slice: group("reductions & movement", [
    ["slice [3,4,5]", [N(3, 4, 5)], (x) => C.slice(x, [1, 0, 2], [3, 3, 5]), lin],
  ]),
  pad: group("reductions & movement", [
    ["pad [2,3]", [N(2, 3)], (x) => C.pad(x, [1, 0], [0, 2]), lin],
  ]),
  concat: group("reductions & movement", [
    ["concat axis 1", [N(2, 3), N(2, 1), N(2, 2)], (a, b, c) => C.concat([a, b, c], 1), lin],
    ["concat axis 0 of a permuted view", [N(3, 2), N(1, 3)], (a, b) => C.concat([T(a), b], 0), lin],
  ]),
  // float64 → float32 → float64 on the reference (the values are float32 already), nothing on
  // WebGPU (float32 only): the round trip is the identity, and so is its gradient. Its central
  // differences step off float32 values, which the round trip rounds: a unit step (exact for a
  // linear map) keeps that rounding a 2⁻²⁴ part of the difference.
  cast: group("reductions & movement", [
    [
      "cast round trip through float32",
      [N(3, 4)],
      (x) => C.cast(C.cast(x, "f32"), x.dtype),
      { ...lin, eps: 1 },
    ],
  ]),
  matmul: group("matmul", [
    ["[3,4]·[4,5]", [N(3, 4), N(4, 5)], (a, b) => C.matmul(a, b)],
    ["Aᵀ·B [4,3]ᵀ·[4,5]", [N(4, 3), N(4, 5)], (a, b) => C.matmul(a, b, true)],
    ["A·Bᵀ [3,4]·[5,4]ᵀ", [N(3, 4), N(5, 4)], (a, b) => C.matmul(a, b, false, true)],
    ["Aᵀ·Bᵀ [4,3]ᵀ·[5,4]ᵀ", [N(4, 3), N(5, 4)], (a, b) => C.matmul(a, b, true, true)],
    ["batched [2,3,4]·[2,4,5]", [N(2, 3, 4), N(2, 4, 5)], (a, b) => C.matmul(a, b)],
    [
      "batched Aᵀ·Bᵀ [2,4,3]ᵀ·[2,5,4]ᵀ",
      [N(2, 4, 3), N(2, 5, 4)],
      (a, b) => C.matmul(a, b, true, true),
    ],
    ["rank 4 [2,2,3,4]·[2,2,4,1]", [N(2, 2, 3, 4), N(2, 2, 4, 1)], (a, b) => C.matmul(a, b)],
    ["[1,17]·[17,1]", [N(1, 17), N(17, 1)], (a, b) => C.matmul(a, b)],
    ["[10,100]·[100,10] (1000 elements)", [N(10, 100), N(100, 10)], (a, b) => C.matmul(a, b)],
    ["x·xᵀ (one input twice)", [N(3, 4)], (x) => C.matmul(x, x, false, true)],
    ["matmulBias [3,4]·[4,5] + [5]", [N(3, 4), N(4, 5), N(5)], C.matmulBias],
    [
      "matmulBias [67,33]·[33,129] + [129] (texture kernels)",
      [N(67, 33), N(33, 129), N(129)],
      C.matmulBias,
    ],
    ["matmulBias batched [2,3,4]·[2,4,5] + [5]", [N(2, 3, 4), N(2, 4, 5), N(5)], C.matmulBias],
    [
      "permuted view · slice",
      [N(4, 3), N(5, 6)],
      (a, b) => C.matmul(T(a), C.slice(b, [1, 0], [5, 5])),
    ],
  ]),
  cholesky: group("linear algebra", [
    ["cholesky [1,1]", [S(1, 1)], C.cholesky],
    ["cholesky [3,3]", [S(3, 3)], C.cholesky],
    ["cholesky batched [2,4,4]", [S(2, 4, 4)], C.cholesky],
    ["cholesky [17,17]", [S(17, 17)], C.cholesky],
  ]),
  triangularSolve: group("linear algebra", [
    ["solve L X = B [3,3], [3,2]", [L(3, 3), N(3, 2)], (l, b) => C.triangularSolve(l, b)],
    [
      "solve Lᵀ X = B batched [2,4,4], [2,4,3]",
      [L(2, 4, 4), N(2, 4, 3)],
      (l, b) => C.triangularSolve(l, b, true),
    ],
    [
      "solve L X = B, B permuted",
      [L(3, 3), N(2, 3)],
      (l, b) => C.triangularSolve(l, T(b)),
    ],
    [
      "solve Lᵀ X = B [1,10,10], [1,10,100] (1000 elements)",
      [L(1, 10, 10), N(1, 10, 100)],
      (l, b) => C.triangularSolve(l, b, true),
    ],
  ]),
  normalizeRows: group("composed", [
    ["normalizeRows [3,5]", [N(3, 5)], (x) => C.normalizeRows(x, 1e-5)],
    // 150 columns: more than the 64 invocations of the fused kernel's workgroup
    ["normalizeRows [2,150], eps 0.1", [N(2, 150)], (x) => C.normalizeRows(x, 0.1)],
  ]),
  groupNorm: group("composed", [
    [
      "groupNorm [2,8,10,10], 4 groups",
      [N(2, 8, 10, 10), N(8), N(8)],
      (x, g, b) => C.groupNorm(x, 4, g, b),
    ],
    [
      "groupNorm [2,4,3,3], 2 groups",
      [N(2, 4, 3, 3), N(4), N(4)],
      (x, g, b) => C.groupNorm(x, 2, g, b),
    ],
  ]),
  // It has no VJP of its own: its value is the fused kernel's, while the gradients of a traced
  // groupNorm backward pass run the composed rule.
  groupNormInputGrad: group("composed", [
    [
      "groupNormInputGrad [2,4,3,3], 2 groups (groupNorm's backward pass)",
      [N(2, 4, 3, 3), N(4), N(2, 4, 3, 3)],
      (x, g, dy) =>
        C.vjp((xi) => C.groupNorm(xi, 2, g, C.zeros(x.backend, [4], x.dtype)), x).pullback(dy),
    ],
  ]),
  weightedSum: group("composed", [
    [
      "weightedSum of 3 [17] (a partial last vec4)",
      [N(17), N(17), N(17)],
      (a, b, c) => C.weightedSum([a, b, c], [0.5, -2, 0.25]),
      lin,
    ],
    [
      "weightedSum of 9 [2,4] (two chained kernels)",
      [N(2, 4), N(2, 4), N(2, 4)],
      (a, b, c) => C.weightedSum([a, b, c, a, b, c, a, b, c], [1, 2, 3, -1, 0.5, 4, 0.25, -3, 2]),
      lin,
    ],
  ]),
  rowRstd: group("composed", [["rowRstd [4,70]", [N(4, 70)], (x) => C.rowRstd(x, 1e-3)]]),
  conv2d: group("convolution", [
    [
      "3×3, stride 1, padding 0",
      [N(1, 2, 5, 5), N(3, 2, 3, 3)],
      (x, w) => C.conv2d(x, w, { stride: 1, padding: 0 }),
    ],
    [
      "3×3, stride 2, padding 1, odd H×W",
      [N(2, 3, 7, 6), N(2, 3, 3, 3)],
      (x, w) => C.conv2d(x, w, { stride: 2, padding: 1 }),
    ],
    ["1×1", [N(1, 3, 4, 4), N(2, 3, 1, 1)], (x, w) => C.conv2d(x, w, { stride: 1, padding: 0 })],
    [
      "2×3 kernel, stride 2",
      [N(1, 1, 5, 7), N(2, 1, 2, 3)],
      (x, w) => C.conv2d(x, w, { stride: 2, padding: 0 }),
    ],
    [
      "[2,5,10,10] (1000 elements), padding 1",
      [N(2, 5, 10, 10), N(3, 5, 3, 3)],
      (x, w) => C.conv2d(x, w, { stride: 1, padding: 1 }),
    ],
    [
      "NHWC input permuted to NCHW",
      [N(1, 4, 5, 2), N(2, 2, 3, 3)],
      (x, w) => C.conv2d(C.permute(x, [0, 3, 1, 2]), w, { stride: 1, padding: 1 }),
    ],
    [
      "conv2dBias",
      [N(2, 2, 5, 5), N(3, 2, 3, 3), N(3)],
      (x, w, b) => C.conv2dBias(x, w, b, 1, 1),
    ],
  ]),
  conv2dInputGrad: group("convolution", [
    [
      "input gradient 3×3, stride 2, padding 1, odd H×W",
      [N(2, 2, 4, 3), N(2, 3, 3, 3)],
      (dy, w) => C.conv2dInputGrad(dy, w, { stride: 2, padding: 1, inputHW: [7, 6] }),
    ],
  ]),
  conv2dWeightGrad: group("convolution", [
    [
      "weight gradient 3×3, stride 2, padding 1, odd H×W",
      [N(2, 3, 7, 6), N(2, 2, 4, 3)],
      (x, dy) => C.conv2dWeightGrad(x, dy, { stride: 2, padding: 1, kernelHW: [3, 3] }),
    ],
  ]),
};

/** Composed ops: several primitives each. */
const composedCases: Case[] = [
  ...group("linear algebra", [
    ["logDetSpd [2,3,3]", [S(2, 3, 3)], C.logDetSpd],
    [
      "choleskySolve [3,3], [3,2]",
      [S(3, 3), N(3, 2)],
      (a, b) => C.choleskySolve(C.cholesky(a), b),
    ],
    ["diagonal [2,4,4]", [N(2, 4, 4)], C.diagonal, lin],
  ]),
  ...group("composed", [
    ["softplus of 4x (large |x|)", [N(3, 5)], (x) => C.softplus(C.mul(x, 4))],
    ["logsumexp [1] of [3,4]", [N(3, 4)], (x) => C.logsumexp(x, [1])],
    ["logsumexp all, keepDims", [N(3, 4)], (x) => C.logsumexp(x, [0, 1], true)],
    ["softmax [3,5]", [N(3, 5)], (x) => C.softmax(x)],
    ["softmax of large logits [2,70] (the max shift)", [N(2, 70)], (x) => C.softmax(C.mul(x, 40))],
    ["softmax axis 0 of a permuted view", [N(5, 3)], (x) => C.softmax(T(x), 0)],
    ["softmax [4,250] (1000 elements)", [N(4, 250)], (x) => C.softmax(x)],
    [
      "moments [1] (mean, variance)",
      [N(3, 4)],
      (x) => {
        const m = C.moments(x, [1]);
        return C.concat([m.mean, m.variance], 1);
      },
    ],
    ["attention [2,3,4], [2,5,4], [2,5,3]", [N(2, 3, 4), N(2, 5, 4), N(2, 5, 3)], C.attention],
    ["avgPool2x2 [1,2,4,6]", [N(1, 2, 4, 6)], C.avgPool2x2, lin],
    ["upsampleNearest2x [1,2,3,2]", [N(1, 2, 3, 2)], C.upsampleNearest2x, lin],
    ["flipLastAxis [3,5]", [N(3, 5)], C.flipLastAxis, lin],
    ["pow [3,4] ^ [4]", [P(3, 4), N(4)], C.pow],
    ["pow x ^ 1.7", [P(5)], (x) => C.pow(x, 1.7)],
    [
      "gt, ge, le with ties",
      [I(3, 4), I(1, 4)],
      (a, b) => weighted(C.gt(a, b), C.ge(a, b), C.le(a, b)),
      none,
    ],
    [
      "sinusoidalEmbedding [5] → [5,8], scale 1000",
      [U(5)],
      (t) => sinusoidalEmbedding(t, 8),
      // derivatives grow as 1000ᵏ: ε = 1e-5 would leave ε²·1000³ truncation in the differences
      { tol: { value: tol.f32SinusoidalFeatures }, eps: 1e-8 },
    ],
    ["linear [3,4] → [3,5]", [N(3, 4), N(4, 5), N(5)], (x, w, b) => dense({ w, b }, x)],
  ]),
];

export const cases: Case[] = [...Object.values(primitiveCases).flat(), ...composedCases];
