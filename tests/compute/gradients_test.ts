import assert from "node:assert/strict";
import { gpuTest } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { checkGrads } from "../_helpers/check_grads.ts";
import { tol } from "../_helpers/tolerances.ts";
import * as C from "../../compute/mod.ts";
import type { Backend, DType, Tensor } from "../../compute/mod.ts";

const ref = C.referenceBackend();
const k = (data: number[], shape = [data.length]) => C.tensor(ref, data, shape, "f64");
const range = (n: number, f = (i: number) => i) => Array.from({ length: n }, (_, i) => f(i));
/** Irregular points away from 0, ties and kinks; `pos` is positive for log, sqrt and division. */
const pts = (n: number) =>
  range(n, (i) => ((i * 0.61803) % 1) * 3.1 - 1.45 + (i % 2 ? 0.07 : -0.03));
const pos = (n: number) => range(n, (i) => 0.3 + ((i * 0.7548) % 1) * 2.5);

type Case = [what: string, f: (x: Tensor) => Tensor, x0: number[], shape: number[]];

/** Checks f and x ↦ f(x)²: for a linear f only the latter exercises the backward pass's own VJPs. */
async function checkAll(cases: Case[]) {
  for (const [what, f, x0, shape] of cases) {
    await checkGrads(f, x0, shape, what);
    await checkGrads((x) => C.square(f(x)), x0, shape, `(${what})²`, 7);
  }
}

Deno.test("gradients of the unary primitives, first and second order", async () => {
  const x = pts(6), p = pos(6), s = [2, 3];
  await checkAll([
    ["neg", C.neg, x, s],
    ["exp", C.exp, x, s],
    ["log", C.log, p, s],
    ["sin", C.sin, x, s],
    ["cos", C.cos, x, s],
    ["sqrt", C.sqrt, p, s],
    ["recip", C.recip, p, s],
    ["tanh", C.tanh, x, s],
    ["sigmoid", C.sigmoid, x, s],
    ["abs", C.abs, x, s],
    ["sign", C.sign, x, s],
  ]);
});

Deno.test("gradients of the binary primitives in either operand, first and second order", async () => {
  const x = pts(6), p = pos(6), s = [2, 3], c = k([0.5, -1.2, 0.8, 1.5, -0.4, 0.9], s);
  const ops: [string, (a: Tensor | number, b: Tensor | number) => Tensor][] = [
    ["add", C.add],
    ["sub", C.sub],
    ["mul", C.mul],
    ["maximum", C.maximum],
    ["minimum", C.minimum],
    ["lt", C.lt],
    ["eq", C.eq],
    ["siluGrad", C.siluGrad],
  ];
  const cases: Case[] = ops.flatMap(([name, op]): Case[] => [
    [`${name}(x, c)`, (v) => op(v, c), x, s],
    [`${name}(c, x)`, (v) => op(c, v), x, s],
    [`${name}(x, 0.25)`, (v) => op(v, 0.25), x, s],
  ]);
  await checkAll([
    ...cases,
    ["div(x, c)", (v) => C.div(v, c), x, s],
    ["div(c, x)", (v) => C.div(c, v), p, s],
    ["div(2, x)", (v) => C.div(2, v), p, s],
    ["x · x", (v) => C.mul(v, v), x, s],
    ["x / x²", (v) => C.div(v, C.mul(v, v)), p, s],
    ["max(x, x)", (v) => C.maximum(v, v), x, s],
  ]);
});

Deno.test("lt, eq and sign pass no gradient, to any order", async () => {
  const x = k(pts(6), [2, 3]), c = k([0.5, -1.2, 0.8, 1.5, -0.4, 0.9], [2, 3]);
  const zero = range(6, () => 0);
  for (const f of [(v: Tensor) => C.lt(v, c), (v: Tensor) => C.eq(v, v), C.sign]) {
    assertAllClose(await C.grad(f)(x).read(), zero, tol.exact, "gradient");
    // the product rule sees f(x) as a constant factor: ∇ Σ f(x)·x = f(x)
    const g = C.grad((v: Tensor) => C.mul(f(v), v))(x);
    assertAllClose(await g.read(), await f(x).read(), tol.exact, "∇ Σ f(x)·x");
    const gg = C.grad((v: Tensor) => C.mul(C.grad(f)(v), v))(x);
    assertAllClose(await gg.read(), zero, tol.exact, "second order");
  }
});

Deno.test("broadcasting gradients sum back to the operand's shape (sumToShape)", async () => {
  const c14 = k([0.5, -1.2, 0.8, 1.5], [1, 4]), c234 = k(pts(24).map((v) => v + 0.1), [2, 3, 4]);
  const cond = k([1, 0], [2, 1, 1]);
  await checkAll([
    ["[3,1] · [1,4]", (v) => C.mul(v, c14), pts(3), [3, 1]],
    ["[1,4] − [3,1]", (v) => C.sub(c14, v), pts(3), [3, 1]],
    ["[4] · [2,3,4]", (v) => C.mul(C.sin(v), c234), pts(4), [4]],
    ["[] · [2,3,4]", (v) => C.div(c234, C.exp(v)), [0.3], []],
    ["maximum([2,3,4], [3,1])", (v) => C.maximum(c234, v), pts(3), [3, 1]],
    ["where(cond, x, c)", (v) => C.where(cond, v, c234), pts(3), [3, 1]],
    ["where(cond, c, x)", (v) => C.where(k([0, 1, 1], [3, 1]), 2, C.tanh(v)), pts(8), [2, 1, 4]],
    ["sumToShape", (v) => C.sumToShape(C.mul(v, v), [3, 1]), pts(24), [2, 3, 4]],
  ]);
  const g = C.sumToShape(C.ones(ref, [2, 3, 4], "f64"), [3, 1]);
  assert.deepEqual(g.shape, [3, 1]);
  assertAllClose(await g.read(), [8, 8, 8], tol.exact, "sumToShape of ones");
  const gx = C.grad((v: Tensor) => C.mul(v, c234))(k([1, 2, 3], [3, 1]));
  assertAllClose(await gx.read(), await C.sum(c234, [0, 2]).read(), tol.f64, "∇ Σ x·c");
});

Deno.test("gradients of reductions and data movement", async () => {
  const x = pts(24), s = [2, 3, 4], c = k(pos(12), [3, 4]);
  await checkAll([
    ["sum all", (v) => C.sum(C.sin(v)), x, s],
    ["sum [1]", (v) => C.sum(v, [1]), x, s],
    ["sum [0,2]", (v) => C.sum(v, [0, 2]), x, s],
    ["max all", (v) => C.max(v), x, s],
    ["max [1]", (v) => C.max(v, [1]), x, s],
    ["max [2,0] keep", (v) => C.max(v, [2, 0], true), x, s],
    ["mean [-1]", (v) => C.mean(v, [-1]), x, s],
    ["reshape", (v) => C.reshape(v, [4, -1]), x, s],
    ["permute", (v) => C.permute(v, [2, 0, 1]), x, s],
    ["expand", (v) => C.expand(v, [2, 3, 4]), pts(3), [3, 1]],
    ["slice", (v) => C.slice(v, [0, 1, 1], [2, 3, 4]), x, s],
    ["pad", (v) => C.pad(v, [1, 0, 2], [0, 2, 1]), x, s],
    ["concat", (v) => C.concat([v, c, C.exp(v)], 0), pts(12), [3, 4]],
    ["concat axis 1", (v) => C.concat([c, v], 1), pts(6), [3, 2]],
  ]);
  // the maxima of a tied reduction share its gradient equally
  const g = C.grad((v: Tensor) => C.max(v))(k([1, 3, 3, 2]));
  assertAllClose(await g.read(), [0, 0.5, 0.5, 0], tol.exact, "tied maxima");
});

Deno.test("gradients of matmul: both operands, transposes, batches", async () => {
  const a = k(pts(6), [2, 3]), b = k(pos(12), [3, 4]), bt = k(pos(12), [4, 3]);
  const a3 = k(pts(24), [2, 3, 4]);
  await checkAll([
    ["x·B", (v) => C.matmul(v, b), pts(6), [2, 3]],
    ["A·x", (v) => C.matmul(a, v), pts(12), [3, 4]],
    ["xᵀ·B", (v) => C.matmul(v, b, true), pts(6), [3, 2]],
    ["x·Bᵀ", (v) => C.matmul(v, bt, false, true), pts(6), [2, 3]],
    ["Aᵀ·xᵀ", (v) => C.matmul(k(pts(6), [3, 2]), v, true, true), pts(12), [4, 3]],
    ["x·xᵀ", (v) => C.matmul(v, v, false, true), pts(6), [2, 3]],
    ["xᵀ·x", (v) => C.matmul(v, v, true, false), pts(6), [2, 3]],
    ["batched A·x", (v) => C.matmul(a3, v), pts(8), [2, 4, 1]],
    ["batched xᵀ·A", (v) => C.matmul(v, a3, true), pts(12), [2, 3, 2]],
    ["x·tanh(x)ᵀ", (v) => C.matmul(v, C.tanh(v), false, true), pts(12), [2, 2, 3]],
    ["x·B + c", (v) => C.matmulBias(v, b, k(pts(4), [4])), pts(6), [2, 3]],
    ["A·x + c", (v) => C.matmulBias(a, v, k(pts(4), [4])), pts(12), [3, 4]],
    ["A·B + x", (v) => C.matmulBias(a, b, v), pts(4), [4]],
    [
      "tanh(x)·B + Σ rows of x·B",
      (v) => C.matmulBias(C.tanh(v), b, C.sum(C.matmul(v, b), [0])),
      pts(6),
      [2, 3],
    ],
  ]);
});

Deno.test("gradients of weightedSum in each term, a term repeated, and past one kernel's terms", async () => {
  const c = k(pts(6), [2, 3]);
  await checkAll([
    ["0.5 x − 2 c", (v) => C.weightedSum([v, c], [0.5, -2]), pts(6), [2, 3]],
    ["x·x weighted", (v) => C.weightedSum([C.mul(v, v), v, c], [1, 3, -1]), pts(6), [2, 3]],
    ["equal weights share", (v) => C.weightedSum([C.sin(v), v, c], [0.5, 0.5, 0.5]), pts(6), [
      2,
      3,
    ]],
    ["nine terms", (v) => C.weightedSum(Array(9).fill(v), [1, 2, 3, 4, 5, 6, 7, 8, -9]), pts(6), [
      2,
      3,
    ]],
  ]);
});

Deno.test("gradients of composed ops: silu, softplus, logsumexp", async () => {
  const x = pts(12), s = [3, 4];
  await checkAll([
    ["silu", C.silu, x, s],
    ["softplus", C.softplus, x.map((v) => v * 8), s],
    ["logsumexp [1]", (v) => C.logsumexp(v, [1]), x, s],
    ["logsumexp all", (v) => C.logsumexp(v, [0, 1], true), x, s],
    ["logsumexp(10x)", (v) => C.logsumexp(C.mul(v, 10), [0]), x, s],
  ]);
});

Deno.test("cast passes gradients back in the input's dtype", async () => {
  const x = k([0.5, -1.25, 2]);
  const f = (v: Tensor) => C.cast(C.square(C.cast(v, "f32")), "f64");
  const g = C.grad(f)(x);
  assert.equal(g.dtype, "f64");
  assertAllClose(await g.read(), [1, -2.5, 4], tol.exact, "∇ Σ cast(x)²");
  const gg = C.grad((v: Tensor) => C.mul(C.grad(f)(v), k([1, 2, 3])))(x);
  assert.equal(gg.dtype, "f64");
  assertAllClose(await gg.read(), [2, 4, 6], tol.exact, "second order");
});

/** Composite functions built from constants on the given backend. */
type Composite = (be: Backend, dtype: DType) => (x: Tensor) => Tensor;
const composites: [string, Composite][] = [
  ["tanh MLP with transposes", (be, dt) => {
    const w1 = C.tensor(be, pts(30), [6, 5], dt), w2 = C.tensor(be, pos(30), [6, 5], dt);
    return (x) => C.matmul(C.tanh(C.add(C.matmul(x, w1, false, true), 0.1)), w2);
  }],
  [
    "logsumexp, softplus, silu",
    () => (x) => C.add(C.logsumexp(C.mul(x, 2), [1], true), C.mul(C.softplus(x), C.silu(x))),
  ],
  [
    "max, maximum, where",
    () => (x) =>
      C.mul(
        C.maximum(x, 0.1),
        C.add(C.max(C.sin(x), [0], true), C.where(C.lt(x, 0), C.exp(x), C.sqrt(C.abs(x)))),
      ),
  ],
  ["movement and division", () => (x) => {
    const y = C.concat([C.slice(x, [0, 1], [8, 5]), C.pad(C.cos(x), [0, 0], [0, 1])], 1);
    return C.div(C.sum(C.permute(C.mul(y, y), [1, 0]), [0]), C.add(C.sum(C.mul(x, x), [1]), 1));
  }],
];

gpuTest(
  "gradients and gradients of gradients: WebGPU matches the float64 reference",
  async (gpu) => {
    const x0 = await C.Rng.fromSeed(5).normal(ref, [8, 5], "f64").read();
    const w0 = await C.Rng.fromSeed(6).normal(ref, [8, 5], "f64").read();
    for (const [name, make] of composites) {
      const run = async (be: Backend, dt: DType) => {
        const f = make(be, dt), x = C.tensor(be, x0, [8, 5], dt), w = C.tensor(be, w0, [8, 5], dt);
        const g = await C.grad(f)(x).read();
        const gg = await C.grad((v: Tensor) => C.mul(C.grad(f)(v), w))(x).read();
        return { g, gg };
      };
      const want = await run(ref, "f64"), got = await run(gpu, "f32");
      assertAllClose(got.g, want.g, tol.f32Grad, `${name}: gradient`);
      assertAllClose(got.gg, want.gg, tol.f32Grad2, `${name}: gradient of gradient`);
    }
  },
);
