import { eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { add, mul, referenceBackend, type Tensor, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { VpSde } from "../../sde/vp.ts";
import { denseAt, fixture, probePoints } from "./gmm_oracle.ts";

const VP = new VpSde();
const TIMES = [1e-5, 0.1, 1];
const models = await Promise.all(
  ["mix2d.json", "mix10d.json"].map((f) => GmmModel.load(fixture(f), VP)),
);

function grid(m: GmmModel) {
  const pts = probePoints(m.spec, 4, 11);
  const xs = TIMES.flatMap(() => pts), ts = TIMES.flatMap((t) => pts.map(() => t));
  // a fixed direction per example, not aligned with any axis
  const vs = xs.map((p, i) => p.map((_, d) => Math.fround(Math.cos(1.3 * d + 0.7 * i))));
  return { xs, ts, vs };
}

// Hv must be the directional derivative of the score: (s(x + hv) − s(x − hv))/2h on float64.
Deno.test("gmm: Hessian-vector product equals finite differences of the score", async () => {
  const be = referenceBackend(), h = 1e-5;
  for (const m of models) {
    const { xs, ts, vs } = grid(m);
    const up = (a: number[][]) => tensor(be, a.flat(), [a.length, m.D], "f64");
    const x = up(xs), v = up(vs), t = tensor(be, ts, [ts.length], "f64");
    const hvp = await m.hessianVectorProduct(x, t, v).read();
    const sp = await m.score(add(x, mul(v, h)), t).read();
    const sm = await m.score(add(x, mul(v, -h)), t).read();
    const fd = Array.from(sp, (p, i) => (p - sm[i]) / (2 * h));
    assertAllClose(hvp, fd, tol.finiteDiff, `${m.description} Hv`);
  }
});

/** The D×D Hessians of every example from D products H e_i (columns), row-major per example. */
async function hessianFromHvps(m: GmmModel, x: Tensor, t: Tensor): Promise<number[][]> {
  const B = x.shape[0], D = m.D;
  const cols: ArrayLike<number>[] = [];
  for (let i = 0; i < D; i++) {
    const e = tensor(x.backend, xs1(B, D, i), [B, D], x.dtype);
    cols.push(await m.hessianVectorProduct(x, t, e).read());
  }
  return Array.from(
    { length: B },
    (_, b) => Array.from({ length: D * D }, (_, rc) => cols[rc % D][b * D + Math.floor(rc / D)]),
  );
}

function xs1(B: number, D: number, i: number): number[] {
  return Array.from({ length: B * D }, (_, j) => (j % D === i ? 1 : 0));
}

// On every backend: Hv against the dense closed form Σ_k r_k(g_k g_kᵀ − C_k⁻¹) − s sᵀ, and the
// Laplacian (exact divergence of the score) against the trace of the Hessian assembled from
// D Hessian-vector products on the same backend and against the dense trace.
eachBackend("gmm: HVP equals the closed-form Hessian; Laplacian equals its trace", async (k) => {
  const f64 = k.dtype === "f64";
  for (const m of models) {
    const { xs, ts, vs } = grid(m);
    const up = (a: number[][]) => tensor(k.backend, a.flat(), [a.length, m.D], k.dtype);
    const x = up(xs), v = up(vs), t = tensor(k.backend, ts, [ts.length], k.dtype);
    const dense = xs.map((p, i) => denseAt(m.spec, p, VP.alpha(ts[i]), VP.sigma(ts[i])).hessian);
    const hv = dense.flatMap((hm, i) =>
      hm.map((row) => row.reduce((s, h, j) => s + h * vs[i][j], 0))
    );
    const hvp = await m.hessianVectorProduct(x, t, v).read();
    assertAllClose(hvp, hv, f64 ? tol.f64Hessian : tol.f32GmmHessian, `${m.description} Hv`);

    const built = await hessianFromHvps(m, x, t);
    const lap = await m.laplacian(x, t).read();
    const traces = built.map((hm) =>
      hm.reduce((s, h, rc) => (rc % (m.D + 1) === 0 ? s + h : s), 0)
    );
    assertAllClose(lap, traces, f64 ? tol.f64 : tol.f32GmmHessian, `${m.description} Δ vs tr H`);
    const denseTr = dense.map((hm) => hm.reduce((s, row, i) => s + row[i], 0));
    assertAllClose(lap, denseTr, f64 ? tol.f64Hessian : tol.f32GmmHessian, `${m.description} Δ`);
    // H is symmetric: the assembled Hessian must equal its transpose
    const sym = built.map((hm) => hm.map((_, rc) => hm[(rc % m.D) * m.D + Math.floor(rc / m.D)]));
    assertAllClose(built.flat(), sym.flat(), f64 ? tol.f64 : tol.f32GmmHessian, "H symmetric");
  }
});
