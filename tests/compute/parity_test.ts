/**
 * WebGPU (float32) against the float64 reference, case by case (table in `parity_cases.ts`):
 * values, first-order gradients of Σ f(x)·w with respect to every input, and second-order
 * gradients ∇ Σᵢ ⟨∇ᵢ, vᵢ⟩. Both backends get the same float32-representable inputs, so the
 * difference is the WebGPU kernels' float32 arithmetic alone. Parity cannot catch a wrong VJP
 * rule (both backends share them), so each case also checks its first and second order on the
 * reference against central differences. The last test prints the worst relative error per family.
 */

import assert from "node:assert/strict";
import { cpuTest, gpuTest } from "../_helpers/backends.ts";
import { assertAllClose, maxRelativeError } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import * as C from "../../compute/mod.ts";
import type { Backend, DType, Tensor } from "../../compute/mod.ts";
import type { Prim } from "../../compute/primitives.ts";
import {
  type Case,
  cases,
  families,
  type Family,
  type Input,
  primitiveCases,
} from "./parity_cases.ts";

const ref = C.referenceBackend();

/** Host values of one case: inputs xs, output weights w, second-order weights vs, directions us. */
interface Data {
  xs: Float64Array[];
  w: Float64Array;
  vs: Float64Array[];
  us: Float64Array[];
  outShape: number[];
}

async function host(t: Tensor): Promise<Float64Array> {
  const a = Float64Array.from(await t.read());
  t.dispose();
  return a;
}

/** Entry (i, j) of an r×r matrix built from normal draws z. */
type Entry = (z: (i: number, j: number) => number, i: number, j: number, r: number) => number;
const spd: Entry = (z, i, j, r) => {
  let s = i === j ? 1 : 0;
  for (let k = 0; k < r; k++) s += z(i, k) * z(j, k) / r;
  return s;
};
const lower: Entry = (z, i, j, r) =>
  i === j ? 1 + 0.5 * Math.abs(z(i, i)) : j < i ? 0.5 * z(i, j) / Math.sqrt(r) : 0;
const symmetric: Entry = (z, i, j) => z(i, j) + z(j, i);

/** Valid inputs for each kind (see `Kind`), rounded to float32 so both backends see the same. */
async function draw(c: Case): Promise<Data> {
  const rng = C.Rng.fromSeed(7).derive(c.name);
  const normal = (shape: number[]) => host(rng.normal(ref, shape, "f64"));
  const uniform = async (shape: number[], map: (u: number, i: number) => number) =>
    (await host(rng.uniform(ref, shape, "f64"))).map(map);
  const matrices = async (shape: number[], entry: Entry) => {
    const r = shape[shape.length - 1], z = await normal(shape), out = new Float64Array(z.length);
    for (let o = 0; o < z.length; o += r * r) {
      const zo = (i: number, j: number) => z[o + i * r + j];
      for (let i = 0; i < r; i++) {
        for (let j = 0; j < r; j++) out[o + i * r + j] = entry(zo, i, j, r);
      }
    }
    return out;
  };
  const value = ({ shape, kind }: Input): Promise<Float64Array> => {
    switch (kind) {
      case "normal":
        return normal(shape);
      case "positive":
        return uniform(shape, (u) => 0.5 + 2 * u);
      case "unit":
        return uniform(shape, (u) => u);
      case "int":
        return uniform(shape, (u) => Math.floor(5 * u) - 2);
      case "mask":
        return uniform(shape, (_, i) => (i + 1) % 2);
      case "spd":
        return matrices(shape, spd);
      case "lower":
        return matrices(shape, lower);
    }
  };
  const f32 = (a: Float64Array) => a.map(Math.fround);
  const shapes = c.inputs.map((x) => x.shape);
  const xs: Float64Array[] = [], vs: Float64Array[] = [], us: Float64Array[] = [];
  for (const x of c.inputs) xs.push(f32(await value(x)));
  const outShape = C.tidy(() => [...c.f(...upload(ref, "f64", xs, shapes)).shape]);
  const w = f32(await normal(outShape));
  for (const shape of shapes) vs.push(f32(await normal(shape)));
  // directions of the central differences: symmetric for SPD inputs (cholesky reads one triangle
  // and its VJP is the symmetric gradient), none for where's condition (not differentiable)
  for (const [i, { shape, kind }] of c.inputs.entries()) {
    us.push(
      kind === "mask"
        ? new Float64Array(xs[i].length)
        : await (kind === "spd" ? matrices(shape, symmetric) : normal(shape)),
    );
  }
  return { xs, w, vs, us, outShape };
}

function upload(be: Backend, dtype: DType, arrays: Float64Array[], shapes: number[][]): Tensor[] {
  return arrays.map((a, i) => C.tensor(be, a, shapes[i], dtype));
}

const total = (ts: Tensor[]) => ts.reduce((s, t) => C.add(s, t));

/**
 * The objectives of a case: loss(xs) = Σ f(xs)·w, its gradients, and the second-order objective
 * Σᵢ ⟨∇ᵢ loss, vᵢ⟩ with its gradients. A (piecewise) linear f has a zero second order, so there
 * the second order differentiates the gradients of Σ f²·w, which runs the backward pass's own rules.
 */
function objectives(c: Case, w: Tensor, vs: Tensor[]) {
  const lossOf = (f: Case["f"]) => (xs: Tensor[]) => C.sum(C.mul(f(...xs), w));
  const loss = lossOf(c.f);
  const loss2 = lossOf(c.linear ? (...xs) => C.square(c.f(...xs)) : c.f);
  const second = (xs: Tensor[]) =>
    total(C.valueAndGrad(loss2)(xs).grad.map((g, i) => C.sum(C.mul(g, vs[i]))));
  return {
    loss,
    second,
    grad: (xs: Tensor[]) => C.valueAndGrad(loss)(xs).grad,
    grad2: (xs: Tensor[]) => C.valueAndGrad(second)(xs).grad,
  };
}

interface Result {
  value: Float32Array | Float64Array;
  grad: (Float32Array | Float64Array)[];
  grad2: (Float32Array | Float64Array)[];
}

function run(c: Case, be: Backend, dtype: DType, d: Data): Promise<Result> {
  return C.tidyAsync(async () => {
    const shapes = c.inputs.map((x) => x.shape);
    const xs = upload(be, dtype, d.xs, shapes);
    const [w] = upload(be, dtype, [d.w], [d.outShape]);
    const o = objectives(c, w, upload(be, dtype, d.vs, shapes));
    const read = (ts: Tensor[]) => Promise.all(ts.map((t) => t.read()));
    return {
      value: await c.f(...xs).read(),
      grad: await read(o.grad(xs)),
      grad2: await read(o.grad2(xs)),
    };
  });
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** ⟨∇φ, u⟩ against (φ(x + εu) − φ(x − εu)) / 2ε on the float64 reference. */
async function checkDirectional(
  what: string,
  phi: (xs: Tensor[]) => Tensor,
  grads: ArrayLike<number>[],
  c: Case,
  d: Data,
) {
  const eps = c.eps ?? 1e-5, shapes = c.inputs.map((x) => x.shape);
  const at = (s: number) =>
    C.tidyAsync(() =>
      phi(d.xs.map((x, i) => C.tensor(ref, x.map((v, j) => v + s * d.us[i][j]), shapes[i], "f64")))
        .item()
    );
  const numeric = ((await at(eps)) - (await at(-eps))) / (2 * eps);
  const analytic = grads.reduce((s, g, i) => s + dot(g, d.us[i]), 0);
  const { rtol, atol } = tol.finiteDiff;
  const scale = Math.max(Math.abs(numeric), Math.abs(analytic));
  assert.ok(
    Math.abs(analytic - numeric) <= atol + rtol * scale,
    `${what}: ⟨∇, u⟩ = ${analytic} but central differences give ${numeric}`,
  );
}

/** Worst relative error per family; relative to max(|expected|, 1e-3 · the array's largest |value|). */
const worst = new Map<Family, { value: number; grad: number; grad2: number; cases: number }>();

function relErr(got: ArrayLike<number>[], want: ArrayLike<number>[]): number {
  return Math.max(
    ...got.map((g, i) => {
      const scale = Array.from(want[i]).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      return maxRelativeError(g, want[i], Math.max(1e-3 * scale, 1e-12));
    }),
  );
}

function record(family: Family, got: Result, want: Result) {
  const w = worst.get(family) ?? { value: 0, grad: 0, grad2: 0, cases: 0 };
  worst.set(family, {
    value: Math.max(w.value, relErr([got.value], [want.value])),
    grad: Math.max(w.grad, relErr(got.grad, want.grad)),
    grad2: Math.max(w.grad2, relErr(got.grad2, want.grad2)),
    cases: w.cases + 1,
  });
}

const isZero = (arrays: ArrayLike<number>[]) =>
  arrays.every((a) => Array.from(a).every((v) => v === 0));

/** One case on a float32 backend against the float64 reference, to second order. */
async function checkParity(c: Case, be: Backend, table: boolean): Promise<void> {
  const d = await draw(c);
  const want = await run(c, ref, "f64", d);
  const got = await run(c, be, "f32", d);
  if (table) record(c.family, got, want);

  const valueTol = c.tol?.value ??
    (c.family === "elementwise" ? tol.f32Elementwise : tol.f32Reduction);
  assertAllClose(got.value, want.value, valueTol, "values");
  c.inputs.forEach((_, i) => {
    assertAllClose(got.grad[i], want.grad[i], c.tol?.grad ?? tol.f32Grad, `∇ input ${i}`);
    assertAllClose(
      got.grad2[i],
      want.grad2[i],
      c.tol?.grad2 ?? tol.f32Grad2,
      `second-order ∇ input ${i}`,
    );
  });
  if (c.noGrad) {
    assert.ok(new Set(want.value).size > 1, "a constant comparison would prove little");
    assert.ok(isZero([...got.grad, ...got.grad2, ...want.grad, ...want.grad2]), "no gradient");
    return;
  }
  // a comparison of zeros would prove nothing
  assert.ok(!isZero(want.grad) && !isZero(want.grad2), "gradients of both orders are non-zero");
  // the VJP rules, which parity cannot see: central differences in float64 (ties in integer
  // inputs sit on kinks, where f has no derivative)
  if (c.inputs.some((x) => x.kind === "int")) return;
  await C.tidyAsync(async () => {
    const shapes = c.inputs.map((x) => x.shape);
    const [w] = upload(ref, "f64", [d.w], [d.outShape]);
    const o = objectives(c, w, upload(ref, "f64", d.vs, shapes));
    await checkDirectional("first order", o.loss, want.grad, c, d);
    await checkDirectional("second order", o.second, want.grad2, c, d);
  });
}

for (const c of cases) {
  gpuTest(`parity ${c.family}: ${c.name}`, (gpu) => checkParity(c, gpu, true));
  cpuTest(`parity ${c.family}: ${c.name} [cpu]`, (cpu) => checkParity(c, cpu, false));
}

Deno.test("parity: every primitive has cases (a missing one is a type error), names are unique", () => {
  const { cast: _cast, ...withoutCast } = primitiveCases;
  // @ts-expect-error a table without `cast` is not a table of every primitive
  const table: Record<Prim, readonly Case[]> = withoutCast;
  assert.ok(Object.values(table).every((rows) => rows.length > 0));
  const names = cases.map((c) => c.name);
  assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), [], "duplicate case names");
});

Deno.test("parity: worst relative error per family, WebGPU (f32) vs reference (f64)", () => {
  const row = (name: string, ...cells: string[]) =>
    name.padEnd(22) + cells.map((c) => c.padStart(9)).join("");
  const lines = [row("family", "cases", "values", "∇", "∇²")];
  for (const f of families) {
    const w = worst.get(f);
    const figures = w ? [w.value, w.grad, w.grad2].map((v) => v.toExponential(1)) : ["—", "—", "—"];
    lines.push(row(f, String(w?.cases ?? 0), ...figures));
  }
  console.log(`\n${lines.join("\n")}\n`);
});
