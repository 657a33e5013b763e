/**
 * One vector-Jacobian product per primitive, written in Tensor ops so that the backward pass
 * is itself differentiable (gradients of gradients, Hutchinson divergences inside losses).
 * `needs[i]` says whether input i wants a gradient; a rule returns null where it does not.
 */

import {
  binary,
  conv2d,
  conv2dInputGrad,
  conv2dWeightGrad,
  groupNormInputGrad,
  normalizeRows,
  type Prim,
  type PrimParams,
  rowRstd,
  triangularSolve,
} from "../primitives.ts";
import { isRecording } from "./mode.ts";
import { tensor } from "../constants.ts";
import type { Tensor } from "../tensor.ts";
import {
  add,
  cast,
  cos,
  div,
  eq,
  expand,
  inversePermutation,
  keptShape,
  lt,
  matmul,
  mul,
  neg,
  pad,
  permute,
  reshape,
  sigmoid,
  sign,
  sin,
  slice,
  sub,
  sum,
  sumToShape,
  transpose,
  where,
} from "../ops/basic.ts";

export type VjpRule<P extends Prim> = (
  g: Tensor,
  out: Tensor,
  inputs: Tensor[],
  params: PrimParams[P],
  needs: boolean[],
) => (Tensor | null)[];

const noGradient = () => [null, null, null];

/** Gradient of a two-input broadcasting op from the per-input local products. */
function both(
  needs: boolean[],
  inputs: Tensor[],
  ga: () => Tensor,
  gb: () => Tensor,
): (Tensor | null)[] {
  return [
    needs[0] ? sumToShape(ga(), inputs[0].shape) : null,
    needs[1] ? sumToShape(gb(), inputs[1].shape) : null,
  ];
}

export const vjpRules: { [P in Prim]: VjpRule<P> } = {
  // d(−x) = −dx
  neg: (g) => [neg(g)],
  // d exp(x) = exp(x) dx
  exp: (g, out) => [mul(g, out)],
  // d log(x) = dx / x
  log: (g, _out, [x]) => [div(g, x)],
  // d sin(x) = cos(x) dx
  sin: (g, _out, [x]) => [mul(g, cos(x))],
  // d cos(x) = −sin(x) dx
  cos: (g, _out, [x]) => [neg(mul(g, sin(x)))],
  // d √x = dx / (2√x)
  sqrt: (g, out) => [div(g, mul(out, 2))],
  // d(1/x) = −dx / x²
  recip: (g, out) => [neg(mul(g, mul(out, out)))],
  // d tanh(x) = (1 − tanh²x) dx
  tanh: (g, out) => [mul(g, sub(1, mul(out, out)))],
  // d σ(x) = σ(1 − σ) dx
  sigmoid: (g, out) => [mul(g, mul(out, sub(1, out)))],
  // d silu(x) = silu′(x) dx, silu′ = σ(x)(1 + x(1 − σ(x))): one fused kernel, itself differentiable
  silu: (g, _out, [x]) => [binary("siluGrad", x, g)],
  // d|x| = sign(x) dx
  abs: (g, _out, [x]) => [mul(g, sign(x))],
  // sign is piecewise constant
  sign: noGradient,
  add: (g, _out, inputs, _p, needs) => both(needs, inputs, () => g, () => g),
  sub: (g, _out, inputs, _p, needs) => both(needs, inputs, () => g, () => neg(g)),
  // d(ab) = b da + a db
  mul: (g, _out, [a, b], _p, needs) => both(needs, [a, b], () => mul(g, b), () => mul(g, a)),
  // d(a/b) = da/b − (a/b) db/b
  div: (g, out, [a, b], _p, needs) =>
    both(needs, [a, b], () => div(g, b), () => neg(div(mul(g, out), b))),
  // the larger input takes the gradient; ties go to a
  maximum: (g, _out, [a, b], _p, needs) =>
    both(needs, [a, b], () => where(lt(a, b), 0, g), () => where(lt(a, b), g, 0)),
  minimum: (g, _out, [a, b], _p, needs) =>
    both(needs, [a, b], () => where(lt(b, a), 0, g), () => where(lt(b, a), g, 0)),
  lt: noGradient,
  eq: noGradient,
  // siluGrad(x, g) = g silu′(x): d/dx = g silu″(x) with silu″ = σ(1 − σ)(2 + x(1 − 2σ)); d/dg = silu′(x)
  siluGrad: (h, _out, [x, g], _p, needs) =>
    both(needs, [x, g], () => {
      const s = sigmoid(x);
      return mul(mul(h, g), mul(mul(s, sub(1, s)), add(2, mul(x, sub(1, mul(s, 2))))));
    }, () => binary("siluGrad", x, h)),
  // the condition carries no gradient
  where: (g, _out, [c, a, b], _p, needs) => [
    null,
    needs[1] ? sumToShape(where(c, g, 0), a.shape) : null,
    needs[2] ? sumToShape(where(c, 0, g), b.shape) : null,
  ],
  // every summand receives g
  sum: (g, _out, [x], { axes }) => [expand(reshape(g, keptShape(x.shape, axes)), x.shape)],
  // the maxima share g equally
  max: (g, out, [x], { axes }) => {
    const kept = keptShape(x.shape, axes);
    const mask = eq(x, reshape(out, kept));
    const share = div(g, sum(mask, axes));
    return [mul(reshape(share, kept), mask)];
  },
  reshape: (g, _out, [x]) => [reshape(g, x.shape)],
  permute: (g, _out, _in, { perm }) => [permute(g, inversePermutation(perm))],
  // broadcasting's adjoint is summation
  expand: (g, _out, [x]) => [sumToShape(g, x.shape)],
  slice: (g, _out, [x], { starts, ends }) => [pad(g, starts, ends.map((e, d) => x.shape[d] - e))],
  pad: (g, _out, [x], { before }) => [slice(g, before, before.map((b, d) => b + x.shape[d]))],
  concat: (g, _out, inputs, { axis }, needs) => {
    let at = 0;
    return inputs.map((x, i) => {
      const starts = g.shape.map((_, d) => (d === axis ? at : 0));
      const ends = g.shape.map((s, d) => (d === axis ? at + x.shape[axis] : s));
      at += x.shape[axis];
      return needs[i] ? slice(g, starts, ends) : null;
    });
  },
  // C = op(A) op(B): d op(A) = G op(B)ᵀ, d op(B) = op(A)ᵀ G, transposed back where op transposed
  // a third input is matmulBias's bias, added to every row: its gradient sums g over rows
  matmul: (g, _out, [a, b, bias], { transA, transB }, needs) => [
    needs[0] ? (transA ? matmul(b, g, transB, true) : matmul(g, b, false, !transB)) : null,
    needs[1] ? (transB ? matmul(g, a, true, transA) : matmul(a, g, !transA, false)) : null,
    ...(bias ? [needs[2] ? sumToShape(g, bias.shape) : null] : []),
  ],
  cast: (g, _out, [x]) => [cast(g, x.dtype)],
  // y = (x − μ)ρ: x̄ = ρ (ȳ − mean(ȳ) − y · mean(ȳ y)), exact for any eps (ρ from the fused
  // kernel; every term is differentiable again, so second order needs nothing more)
  normalizeRows: (g, out, [x], { eps }) => {
    const n = x.shape[x.rank - 1];
    const meanLast = (t: Tensor) => mul(sum(t, [x.rank - 1], true), 1 / n);
    return [mul(rowRstd(x, eps), sub(sub(g, meanLast(g)), mul(out, meanLast(mul(g, out)))))];
  },
  // out = x̂ γ + β: γ̄ = Σ ȳ x̂ and β̄ = Σ ȳ over examples and positions; x̄ through x̂ with ȳ γ
  groupNorm: (g, _out, [x, gamma], { groups, eps }, needs) => {
    const [n, c] = x.shape, grouped = [n, groups, x.size / (n * groups)];
    const perChannel = [1, c, ...x.shape.slice(2).map(() => 1)];
    const others = x.shape.map((_, i) => i).filter((i) => i !== 1);
    const xg = reshape(x, grouped);
    let xhat: Tensor | null = null;
    const standardised = () => xhat ??= normalizeRows(xg, eps);
    const composed = () => {
      const u = reshape(mul(g, reshape(gamma, perChannel)), grouped);
      return reshape(vjpRules.normalizeRows(u, standardised(), [xg], { eps }, [true])[0]!, x.shape);
    };
    // one fused kernel when nothing will differentiate this backward pass again
    const gx = !needs[0]
      ? null
      : isRecording()
      ? composed()
      : groupNormInputGrad(x, groups, gamma, g, eps);
    const gGamma = needs[1]
      ? reshape(sum(mul(g, reshape(standardised(), x.shape)), others), [c])
      : null;
    const gBeta = needs[2] ? reshape(sum(g, others), [c]) : null;
    return [gx, gGamma, gBeta];
  },

  // d Σ w_j t_j = Σ w_j dt_j; terms of equal weight share one product
  weightedSum: (g, _out, _terms, { weights }, needs) => {
    const scaled = new Map<number, Tensor>();
    const times = (w: number) => w === 1 ? g : scaled.get(w) ?? scaled.set(w, mul(g, w)).get(w)!;
    return weights.map((w, j) => (needs[j] ? times(w) : null));
  },
  groupNormInputGrad: () => {
    throw new Error(
      "groupNormInputGrad has no VJP: groupNorm's rule uses it only when no graph is recorded",
    );
  },
  // dρ/dx = −ρ³ (x − μ)/n
  rowRstd: (g, out, [x]) => {
    const n = x.shape[x.rank - 1], axis = [x.rank - 1];
    const centred = sub(x, mul(sum(x, axis, true), 1 / n));
    return [mul(centred, mul(mul(g, mul(out, mul(out, out))), -1 / n))];
  },
  // Murray (2016): Ā = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹), Φ = lower triangle with the diagonal halved
  cholesky: (g, out) => {
    const phi = mul(matmul(out, g, true, false), lowerHalfDiagonalMask(out));
    const left = triangularSolve(out, phi, true); // L⁻ᵀ Φ
    const s = transpose(triangularSolve(out, transpose(left), true)); // (L⁻ᵀ (L⁻ᵀΦ)ᵀ)ᵀ = L⁻ᵀΦL⁻¹
    return [mul(add(s, transpose(s)), 0.5)];
  },
  // X = op(L)⁻¹B: B̄ = op(L)⁻ᵀ X̄, and d op(L) = −B̄ Xᵀ restricted to the lower triangle
  triangularSolve: (g, out, [l], { transpose: t }, needs) => {
    const gb = triangularSolve(l, g, !t);
    const gl = needs[0]
      ? neg(mul(t ? matmul(out, gb, false, true) : matmul(gb, out, false, true), lowerMask(l)))
      : null;
    return [gl, needs[1] ? gb : null];
  },
  // The three convolution maps are adjoint to one another: with ⟨conv(x, w), y⟩ =
  // ⟨x, inputGrad(y, w)⟩ = ⟨w, weightGrad(x, y)⟩ every VJP is one of the three.
  // a third input is the bias, one per output channel: its gradient sums g over n, i, j
  conv2d: (g, _out, [x, w, bias], p, needs) => [
    needs[0] ? conv2dInputGrad(g, w, { ...p, inputHW: [x.shape[2], x.shape[3]] }) : null,
    needs[1] ? conv2dWeightGrad(x, g, { ...p, kernelHW: [w.shape[2], w.shape[3]] }) : null,
    ...(bias ? [needs[2] ? reshape(sum(g, [0, 2, 3]), bias.shape) : null] : []),
  ],
  conv2dInputGrad: (g, _out, [dy, w], p, needs) => [
    needs[0] ? conv2d(g, w, p) : null,
    needs[1] ? conv2dWeightGrad(g, dy, { ...p, kernelHW: [w.shape[2], w.shape[3]] }) : null,
  ],
  conv2dWeightGrad: (g, _out, [x, dy], p, needs) => [
    needs[0] ? conv2dInputGrad(dy, g, { ...p, inputHW: [x.shape[2], x.shape[3]] }) : null,
    needs[1] ? conv2d(x, g, p) : null,
  ],
};

/** 1 on and below the diagonal of the trailing r×r axes. */
function lowerMask(like: Tensor): Tensor {
  return triangleMask(like, 1);
}

/** Φ's mask: 1 below the diagonal, ½ on it. */
function lowerHalfDiagonalMask(like: Tensor): Tensor {
  return triangleMask(like, 0.5);
}

function triangleMask(like: Tensor, diagonal: number): Tensor {
  const r = like.shape[like.rank - 1];
  const m = new Float64Array(r * r);
  for (let i = 0; i < r; i++) for (let j = 0; j <= i; j++) m[i * r + j] = i === j ? diagonal : 1;
  return tensor(like.backend, m, [r, r], like.dtype);
}
