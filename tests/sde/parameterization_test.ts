import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { referenceBackend, Rng, type Tensor, tensor } from "../../compute/mod.ts";
import {
  epsFromScore,
  epsFromVelocity,
  epsFromX0,
  perExample,
  scoreFromEps,
  scoreFromPrediction,
  scoreFromVelocity,
  scoreFromX0,
  velocityFromEpsX0,
  x0FromEps,
  x0FromVelocity,
} from "../../sde/parameterization.ts";
import { makeSde } from "../../sde/processes.ts";
import type { Parameterization } from "../../sde/model.ts";

// three examples of shape [2, 2]: rank 3, so broadcasting over the example shape is exercised
const SHAPE = [3, 2, 2];
const D = 4;

/** Times where max(σ/α, α/σ) ≤ 8, so float32 conversions lose at most a few digits. */
const TIMES = {
  vp: [0.05, 0.3, 0.6],
  subvp: [0.15, 0.3, 0.6],
  vdm: [0.6, 0.7, 0.8],
  ve: [0.3, 0.45, 0.6],
};

/** Host float64 oracle: ε, x0 from a seeded draw; α, σ from a process at moderate times. */
function draw(kind: "vp" | "subvp" | "vdm" | "ve") {
  const rng = Rng.fromSeed(7);
  const be = referenceBackend();
  return Promise.all([rng.normal(be, SHAPE, "f64").read(), rng.normal(be, SHAPE, "f64").read()])
    .then(([eps, x0]) => {
      const sde = makeSde(kind);
      const ts = TIMES[kind];
      const alpha = ts.map((t) => sde.alpha(t)), sigma = ts.map((t) => sde.sigma(t));
      const x = Float64Array.from(x0, (v, i) => {
        const b = Math.floor(i / D);
        return alpha[b] * v + sigma[b] * eps[i];
      });
      return { eps: Float64Array.from(eps), x0: Float64Array.from(x0), x, alpha, sigma };
    });
}

for (const kind of ["vp", "subvp", "vdm", "ve"] as const) {
  eachBackend(`${kind}: ε, x0, velocity and score conversions invert each other`, async (c) => {
    const h = await draw(kind);
    const up = (v: ArrayLike<number>, shape = SHAPE) => tensor(c.backend, v, shape, c.dtype);
    const m = { alpha: up(h.alpha, [3]), sigma: up(h.sigma, [3]) };
    const eps = up(h.eps), x0 = up(h.x0), x = up(h.x);
    const tl = c.dtype === "f64" ? tol.f64 : tol.f32Conversion;
    const check = async (t: Tensor, want: ArrayLike<number>, what: string) => {
      assert.deepEqual(t.shape, SHAPE, `${what} shape`);
      assertAllClose(await t.read(), want, tl, `${kind} ${what}`);
    };
    const b = (i: number) => Math.floor(i / D);
    // the conditional score ∇ log p(x | x0) = −ε/σ is what both ε and x0 conversions must give
    const trueScore = h.eps.map((e, i) => -e / h.sigma[b(i)]);
    await check(scoreFromEps(eps, m), trueScore, "s(ε)");
    await check(scoreFromX0(x0, x, m), trueScore, "s(x0)");
    await check(epsFromScore(scoreFromEps(eps, m), m), h.eps, "ε(s(ε))");
    await check(epsFromX0(x0, x, m), h.eps, "ε(x0)");
    await check(x0FromEps(eps, x, m), h.x0, "x0(ε)");
    // F = αε − σx0, then back to ε and x0 whatever α² + σ² is (sub-VP, VE: not 1)
    const v = velocityFromEpsX0(eps, x0, m);
    await check(v, h.eps.map((e, i) => h.alpha[b(i)] * e - h.sigma[b(i)] * h.x0[i]), "F");
    await check(epsFromVelocity(v, x, m), h.eps, "ε(F)");
    await check(x0FromVelocity(v, x, m), h.x0, "x0(F)");
    await check(scoreFromVelocity(v, x, m), trueScore, "s(F)");
    const native: Record<Parameterization, Tensor> = { eps, x0, velocity: v, score: up(trueScore) };
    for (const p of ["eps", "x0", "velocity", "score"] as const) {
      await check(
        scoreFromPrediction(p, native[p], x, m),
        trueScore,
        `scoreFromPrediction("${p}")`,
      );
    }
  });
}

Deno.test("docs/MATH.md's VP velocity form ε̂ = αF̂ + σx is the α² + σ² = 1 case", async () => {
  const h = await draw("vp");
  for (let i = 0; i < h.eps.length; i++) {
    const b = Math.floor(i / D), a = h.alpha[b], s = h.sigma[b];
    const F = a * h.eps[i] - s * h.x0[i];
    assert.ok(Math.abs(a * F + s * h.x[i] - h.eps[i]) < 1e-12);
  }
});

eachBackend("perExample reshapes [B] to [B, 1, …] and refuses a wrong batch", async (c) => {
  const v = tensor(c.backend, [1, 2], [2], c.dtype);
  const like = tensor(c.backend, new Array(12).fill(0), [2, 3, 2], c.dtype);
  assert.deepEqual(perExample(v, like).shape, [2, 1, 1]);
  assert.deepEqual(perExample(v, tensor(c.backend, [0, 0], [2], c.dtype)).shape, [2]);
  assert.deepEqual(Array.from(await perExample(v, like).read()), [1, 2]);
  assert.throws(
    () => perExample(tensor(c.backend, [1, 2, 3], [3], c.dtype), like),
    /expected per-example values of shape \[2\], found \[3\]/,
  );
});
