import assert from "node:assert/strict";
import { type BackendCase, eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol, type Tolerance } from "../_helpers/tolerances.ts";
import * as C from "../../compute/mod.ts";
import type { Tensor } from "../../compute/mod.ts";

const range = (n: number, f = (i: number) => i) => Array.from({ length: n }, (_, i) => f(i));
const total = (xs: number[]) => xs.reduce((s, v) => s + v, 0);
/** Dyadic values in [−3, 3.3]: exact in float32, so their sums and products are exact too. */
const dyadic = (n: number) => range(n, (i) => ((i * 37) % 101) / 16 - 3);

/** `el`, `rd` and `ex` assert shape, dtype and values with the elementwise, reduction or exact tolerance. */
function helpers({ backend, dtype }: BackendCase) {
  const t = (data: number[], shape = [data.length]) => C.tensor(backend, data, shape, dtype);
  const check =
    (tl: Tolerance) => async (what: string, x: Tensor, shape: number[], v: number[]) => {
      assert.deepEqual(x.shape, shape, `${what}: shape`);
      assert.equal(x.dtype, dtype, `${what}: dtype`);
      assertAllClose(await x.read(), v, tl, what);
    };
  const el = check(dtype === "f64" ? tol.f64 : tol.f32Elementwise);
  return { t, el, rd: check(dtype === "f64" ? tol.f64 : tol.f32Reduction), ex: check(tol.exact) };
}

/** Independent host oracles over row-major arrays. */
function unflat(shape: number[], flat: number): number[] {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return idx;
}
function hostReduce(x: number[], shape: number[], axes: number[], op: "sum" | "max"): number[] {
  const ax = axes.map((a) => (a < 0 ? a + shape.length : a));
  const out = new Map<string, number>();
  x.forEach((v, f) => {
    const key = unflat(shape, f).filter((_, d) => !ax.includes(d)).join(",");
    const prev = out.get(key);
    out.set(key, prev === undefined ? v : op === "sum" ? prev + v : Math.max(prev, v));
  });
  return [...out.values()];
}
function hostMatmul(a: number[], b: number[], m: number, k: number, n: number): number[] {
  return range(
    m * n,
    (f) => total(range(k, (q) => a[Math.floor(f / n) * k + q] * b[q * n + f % n])),
  );
}

eachBackend("unary primitives match closed forms", async (c) => {
  const { t, el, ex } = helpers(c);
  const xs = [-2, -0.75, -0.25, 0, 0.5, 1.25, 3], pos = [0.25, 0.5, 1, 2, 17];
  const cases: [string, (x: Tensor) => Tensor, number[], (v: number) => number][] = [
    ["neg", C.neg, xs, (v) => -v],
    ["exp", C.exp, xs, Math.exp],
    ["log", C.log, pos, Math.log],
    ["sin", C.sin, xs, Math.sin],
    ["cos", C.cos, xs, Math.cos],
    ["sqrt", C.sqrt, pos, Math.sqrt],
    ["recip", C.recip, [...pos, -4, -0.5], (v) => 1 / v],
    ["tanh", C.tanh, xs, Math.tanh],
    ["sigmoid", C.sigmoid, xs, (v) => 1 / (1 + Math.exp(-v))],
  ];
  for (const [name, f, v, oracle] of cases) await el(name, f(t(v)), [v.length], v.map(oracle));
  await ex("sign", C.sign(t(xs)), [7], [-1, -1, -1, 0, 1, 1, 1]);
  await ex("abs", C.abs(t(xs)), [7], [2, 0.75, 0.25, 0, 0.5, 1.25, 3]);
  await el("sqrt by hand", C.sqrt(t([4, 0.25, 0])), [3], [2, 0.5, 0]);
  await el("exp keeps the shape", C.exp(t([0, 1], [2, 1])), [2, 1], [1, Math.E]);
  await ex("neg of a rank-0 tensor", C.neg(t([2.5], [])), [], [-2.5]);
});

eachBackend("extreme values saturate instead of overflowing to NaN", async (c) => {
  const { t, el, ex } = helpers(c);
  await ex("tanh(±50)", C.tanh(t([-50, 50, -1000, 1000])), [4], [-1, 1, -1, 1]);
  await ex("sigmoid(±large)", C.sigmoid(t([100, 1000, -1000])), [3], [1, 1, 0]);
  const tiny = await C.sigmoid(t([-100])).item();
  assert.ok(tiny >= 0 && tiny <= tol.f32Elementwise.atol, `sigmoid(−100) = ${tiny}`);
  const e100 = c.dtype === "f64" ? Math.exp(100) : Infinity;
  await el("exp overflows to inf", C.exp(t([1000, -1000, 100])), [3], [Infinity, 0, e100]);
  await ex("log(0)", C.log(t([0])), [1], [-Infinity]);
  await ex("recip(±inf)", C.recip(t([Infinity, -Infinity])), [2], [0, -0]);
  await ex("division by zero", C.div(t([1, -1]), t([0, 0])), [2], [Infinity, -Infinity]);
});

eachBackend("odd sizes 1, 3, 17, 1000: elementwise ops and reductions", async (c) => {
  const { t, el, rd, ex } = helpers(c);
  for (const n of [1, 3, 17, 1000]) {
    const x = dyadic(n), y = x.map((v) => v / 2 + 1);
    await el(`add n=${n}`, C.add(t(x), t(y)), [n], x.map((v, i) => v + y[i]));
    await el(`mul by a number n=${n}`, C.mul(t(x), 0.5), [n], x.map((v) => v * 0.5));
    await el(`tanh n=${n}`, C.tanh(t(x)), [n], x.map(Math.tanh));
    await el(`exp n=${n}`, C.exp(t(x)), [n], x.map(Math.exp));
    await rd(`sum n=${n}`, C.sum(t(x)), [], [total(x)]);
    await ex(`max n=${n}`, C.max(t(x)), [], [Math.max(...x)]);
  }
  const x = dyadic(1000), s = [10, 10, 10];
  await rd("rows of 100", C.sum(t(x, [10, 100]), [1]), [10], hostReduce(x, [10, 100], [1], "sum"));
  await rd("a column of 1000", C.sum(t(x, [1000, 1]), [0]), [1], [total(x)]);
  await ex("max of 100 each", C.max(t(x, s), [0, 2]), [10], hostReduce(x, s, [0, 2], "max"));
});

eachBackend("binary primitives by hand, same shapes", async (c) => {
  const { t, el } = helpers(c);
  const a = t([-2, -0.5, 0, 1.5, 3, 2], [2, 3]), b = t([1, -0.5, 4, -2, 3, 0.25], [2, 3]);
  const cases: [string, Tensor, number[]][] = [
    ["add", C.add(a, b), [-1, -1, 4, -0.5, 6, 2.25]],
    ["sub", C.sub(a, b), [-3, 0, -4, 3.5, 0, 1.75]],
    ["mul", C.mul(a, b), [-2, 0.25, 0, -3, 9, 0.5]],
    ["div", C.div(a, b), [-2, 1, 0, -0.75, 1, 8]],
    ["maximum", C.maximum(a, b), [1, -0.5, 4, 1.5, 3, 2]],
    ["minimum", C.minimum(a, b), [-2, -0.5, 0, -2, 3, 0.25]],
    ["lt", C.lt(a, b), [1, 0, 1, 0, 0, 0]],
    ["eq", C.eq(a, b), [0, 1, 0, 0, 1, 0]],
  ];
  for (const [name, out, expected] of cases) await el(name, out, [2, 3], expected);
});

eachBackend("broadcasting: numbers, [3,1]×[1,4], rank mismatch, size-1 and size-0", async (c) => {
  const { t, el } = helpers(c);
  const x = t([1, -2, 3]), col = t([1, 2, 3], [3, 1]), row = t([10, 20, 30, 40], [1, 4]);
  const big = range(24), b234 = t(big, [2, 3, 4]), b4 = t([1, 2, 3, 4]);
  await el("x − 2", C.sub(x, 2), [3], [-1, -4, 1]);
  await el("2 − x", C.sub(2, x), [3], [1, 4, -1]);
  await el("1 / x", C.div(1, x), [3], [1, -0.5, 1 / 3]);
  await el("max(x, 0)", C.maximum(x, 0), [3], [1, 0, 3]);
  await el("0 < x", C.lt(0, x), [3], [1, 0, 1]);
  await el(
    "[3,1] + [1,4]",
    C.add(col, row),
    [3, 4],
    range(12, (i) => 10 * (i % 4 + 1) + (i >> 2) + 1),
  );
  await el(
    "[1,4] · [3,1]",
    C.mul(row, col),
    [3, 4],
    range(12, (i) => 10 * (i % 4 + 1) * ((i >> 2) + 1)),
  );
  await el("[2,3,4] − [4]", C.sub(b234, b4), [2, 3, 4], big.map((v, i) => v - (i % 4) - 1));
  await el("[4] + [2,3,4]", C.add(b4, b234), [2, 3, 4], big.map((v, i) => v + (i % 4) + 1));
  const twoByOne = t([1, 2], [2, 1, 1]);
  await el("[2,1,1] · [3,1]", C.mul(twoByOne, col), [2, 3, 1], [1, 2, 3, 2, 4, 6]);
  await el("[1] + [5]", C.add(t([5], [1]), t([1, 2, 3, 4, 5])), [5], [6, 7, 8, 9, 10]);
  await el("[] + [1,2]", C.add(t([7], []), t([1, 2], [1, 2])), [1, 2], [8, 9]);
  await el("[0,3] + [3]", C.add(t([], [0, 3]), t([1, 2, 3])), [0, 3], []);
  await el("[2,0] · 3", C.mul(t([], [2, 0]), 3), [2, 0], []);
  await el("[0] vs [1]", C.maximum(t([], [0]), t([1], [1])), [0], []);
});

eachBackend("where broadcasts its condition and both branches", async (c) => {
  const { t, ex } = helpers(c);
  const cond = t([1, 0, -0.5], [3, 1]), row = t([1, 2, 3, 4], [1, 4]);
  await ex(
    "where [3,1] [1,4] −1",
    C.where(cond, row, -1),
    [3, 4],
    range(12, (i) => i < 4 || i >= 8 ? i % 4 + 1 : -1),
  );
  await ex("where with a number", C.where(t([0, 1, 0]), 5, t([7, 8, 9])), [3], [7, 5, 9]);
  const x = t([1, 5, 3]);
  await ex("where(x < 3, x, 0)", C.where(C.lt(x, 3), x, 0), [3], [1, 0, 0]);
});

eachBackend("reduce sum and max over every axis subset", async (c) => {
  const { t, rd, ex } = helpers(c);
  const shape = [2, 3, 4], xs = range(24, (i) => ((i * 7) % 24) - 11), x = t(xs, shape);
  await rd("sum of 0..23", C.sum(t(range(24), shape)), [], [276]);
  await ex("max of 0..23", C.max(t(range(24), shape)), [], [23]);
  for (const axes of [[], [0], [1], [2], [-1], [0, 2], [2, 0], [1, 2], [0, 1], [0, 1, 2]]) {
    const kept = shape.filter((_, i) => !axes.map((a) => (a + 3) % 3).includes(i));
    await rd(`sum ${axes}`, C.sum(x, axes), kept, hostReduce(xs, shape, axes, "sum"));
    await ex(`max ${axes}`, C.max(x, axes), kept, hostReduce(xs, shape, axes, "max"));
  }
  await rd("keepDims", C.sum(x, [1], true), [2, 1, 4], hostReduce(xs, shape, [1], "sum"));
  await ex("sum over an empty axis", C.sum(t([], [0, 3]), [0]), [3], [0, 0, 0]);
  await ex("sum of empty rows", C.sum(t([], [3, 0]), [1]), [3], [0, 0, 0]);
  const inf = t([-Infinity, -Infinity, -5, -Infinity], [2, 2]);
  await ex("max with −inf", C.max(inf, [1]), [2], [-Infinity, -5]);
  await ex("sum of a scalar", C.sum(t([2.5], [])), [], [2.5]);
});

eachBackend("reshape, permute and expand move data exactly", async (c) => {
  const { t, ex } = helpers(c);
  const xs = range(24), x = t(xs, [2, 3, 4]), y = t(xs, [2, 3, 4]);
  await ex("reshape [4, −1]", C.reshape(x, [4, -1]), [4, 6], xs);
  await ex("reshape [−1]", C.reshape(x, [-1]), [24], xs);
  await ex("reshape to rank 0", C.reshape(t([3], [1, 1]), []), [], [3]);
  const alias = C.reshape(x, [6, 4]);
  x.dispose();
  await ex("an alias outlives its source", alias, [6, 4], xs);
  const perm = range(24, (f) => {
    const [k, i, j] = unflat([4, 2, 3], f);
    return xs[(i * 3 + j) * 4 + k];
  });
  await ex("permute [2,0,1]", C.permute(y, [2, 0, 1]), [4, 2, 3], perm);
  await ex("permute [−1,0,1]", C.permute(y, [-1, 0, 1]), [4, 2, 3], perm);
  await ex("transpose", C.permute(t(range(6), [2, 3]), [1, 0]), [3, 2], [0, 3, 1, 4, 2, 5]);
  const e31 = C.expand(t([1, 2, 3], [3, 1]), [2, 3, 4]);
  await ex("expand [3,1]", e31, [2, 3, 4], range(24, (i) => (Math.floor(i / 4) % 3) + 1));
  await ex(
    "expand [4]",
    C.expand(t([1, 2, 3, 4]), [2, 3, 4]),
    [2, 3, 4],
    range(24, (i) => i % 4 + 1),
  );
  await ex("expand a scalar", C.expand(t([7], []), [2, 2]), [2, 2], [7, 7, 7, 7]);
  await ex("expand to an empty axis", C.expand(t([7], [1]), [0]), [0], []);
});

eachBackend("slice, pad and concat", async (c) => {
  const { t, ex } = helpers(c);
  const x = t(range(12), [3, 4]), sq = t([1, 2, 3, 4], [2, 2]);
  await ex("slice", C.slice(x, [1, 1], [3, 3]), [2, 2], [5, 6, 9, 10]);
  await ex("full slice", C.slice(x, [0, 0], [3, 4]), [3, 4], range(12));
  await ex("empty slice", C.slice(x, [1, 0], [1, 4]), [0, 4], []);
  await ex("middle axis", C.slice(t(range(24), [2, 3, 4]), [0, 2, 1], [2, 3, 2]), [2, 1, 1], [
    9,
    21,
  ]);
  await ex("pad", C.pad(sq, [1, 0], [0, 2]), [3, 4], [0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0]);
  await ex("pad an empty tensor", C.pad(t([], [0, 2]), [1, 0], [0, 0]), [1, 2], [0, 0]);
  await ex("concat axis 1", C.concat([sq, t([5, 6], [2, 1])], 1), [2, 3], [1, 2, 5, 3, 4, 6]);
  await ex("concat axis 0", C.concat([sq, t([7, 8], [1, 2])], 0), [3, 2], [1, 2, 3, 4, 7, 8]);
  const withEmpty = C.concat([t([], [2, 0]), sq, sq], -1);
  await ex("concat axis −1, an empty part", withEmpty, [2, 4], [1, 2, 1, 2, 3, 4, 3, 4]);
  await ex("concat of one", C.concat([t([1, 2, 3])], 0), [3], [1, 2, 3]);
});

eachBackend("matmul: by hand, transposed, batched rank 3, k = 0", async (c) => {
  const { t, rd, ex } = helpers(c);
  const a = t([1, 2, 3, 4, 5, 6], [2, 3]), b = t([7, 8, 9, 10, 11, 12], [3, 2]);
  const at = t([1, 4, 2, 5, 3, 6], [3, 2]), bt = t([7, 9, 11, 8, 10, 12], [2, 3]);
  const ab = [58, 64, 139, 154];
  await rd("A·B", C.matmul(a, b), [2, 2], ab);
  await rd("Aᵀ·B", C.matmul(at, b, true), [2, 2], ab);
  await rd("A·Bᵀ", C.matmul(a, bt, false, true), [2, 2], ab);
  await rd("Aᵀ·Bᵀ", C.matmul(at, bt, true, true), [2, 2], ab);
  await rd("B·A", C.matmul(b, a), [3, 3], [39, 54, 69, 49, 68, 87, 59, 82, 105]);
  const a3 = t([1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0], [2, 2, 3]);
  const b3 = t([7, 8, 9, 10, 11, 12, 7, 8, 9, 10, 11, 12], [2, 3, 2]);
  await rd("batched", C.matmul(a3, b3), [2, 2, 2], [...ab, 7, 8, 9, 10]);
  await ex("k = 0", C.matmul(t([], [2, 0]), t([], [0, 3])), [2, 3], [0, 0, 0, 0, 0, 0]);
  await rd("1×1", C.matmul(t([3], [1, 1]), t([-2], [1, 1])), [1, 1], [-6]);
});

eachBackend("matmul on odd sizes against a host triple loop", async (c) => {
  const { t, rd } = helpers(c);
  for (const [m, k, n] of [[1, 1000, 1], [3, 17, 1], [17, 3, 17], [17, 1000, 3], [33, 65, 31]]) {
    const a = dyadic(m * k), b = dyadic(k * n).reverse(), expected = hostMatmul(a, b, m, k, n);
    await rd(`${m}×${k}·${k}×${n}`, C.matmul(t(a, [m, k]), t(b, [k, n])), [m, n], expected);
    const aT = t(range(m * k, (f) => a[(f % m) * k + Math.floor(f / m)]), [k, m]);
    const bT = t(range(k * n, (f) => b[(f % k) * n + Math.floor(f / k)]), [n, k]);
    await rd(`transposed ${m}×${k}·${k}×${n}`, C.matmul(aT, bT, true, true), [m, n], expected);
  }
});

Deno.test("cast between float32 and float64 on the reference", async () => {
  const x = C.tensor(C.referenceBackend(), [0.1, 1e40, -1e-50, 1 + 2 ** -30, 3], [5], "f64");
  const f32 = C.cast(x, "f32"), expected = [Math.fround(0.1), Infinity, -0, 1, 3];
  assert.equal(f32.dtype, "f32");
  assertAllClose(await f32.read(), expected, tol.exact, "to f32");
  assert.ok(Object.is((await f32.read())[2], -0), "−1e−50 rounds to −0");
  const back = C.cast(f32, "f64");
  assert.equal(back.dtype, "f64");
  assert.deepEqual([...(await back.read())], expected);
  assert.equal(C.cast(x, "f64"), x, "casting to the same dtype is the identity");
});
