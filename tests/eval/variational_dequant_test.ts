/**
 * Variational dequantisation (docs/variational_dequantization.md) on discrete data whose
 * probabilities are known: a 2-D Gaussian mixture binned on a coarse grid (a = 0.5, against
 * component widths 0.22–0.3, so p_Y varies strongly inside a bin: uniform dequantisation's gap
 * is 0.25–0.8 nats on the four bins used), true −log P(k) by quadrature over each box. After training the flow on the exact log p, its bound must beat uniform
 * dequantisation's, stay above the truth, and close in on it as K grows; the PF-ODE evaluator
 * must agree with the closed-form density on the same draws; the flow's log-determinant must
 * match finite differences of its Jacobian.
 */

import assert from "node:assert/strict";
import { type BackendCase, eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { checkVjp } from "../_helpers/check_grads.ts";
import { tol } from "../_helpers/tolerances.ts";
import { runMain } from "../_helpers/cli.ts";
import {
  add,
  mapTree,
  mul,
  referenceBackend,
  Rng,
  softplus,
  sumPerExample,
  type Tensor,
  tensor,
} from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { VpSde } from "../../sde/vp.ts";
import {
  type CouplingFlowConfig,
  couplingFlowForward,
  initCouplingFlow,
} from "../../nn/coupling_flow.ts";
import {
  evaluateVariationalNll,
  importanceWeightedLogProb,
  loadDequantizer,
  saveDequantizer,
} from "../../eval/variational_dequant.ts";
import { initDequantizer, type VariationalDequantizer } from "../../nn/dequantizer.ts";
import { trainDequantizer } from "../../train/dequantizer_train.ts";
import { InputError } from "../../io/errors.ts";

const vp = new VpSde(), T_MIN = 1e-5, D = 2;
const Q = { bits: 2, a: 0.5, b: -1 };
const LEVELS = [[0, 1], [1, 1], [2, 2], [2, 0]];
const model = GmmModel.isotropic({
  weights: [0.55, 0.45],
  means: [[-0.45, 0.35], [0.4, -0.3]],
  stds: [0.3, 0.22],
}, vp);

/** −log ∫_box p_{t_min}(y) dy by the midpoint rule on an n × n grid (error ~1e-6 relative). */
function trueNll(k: number[], n = 300): number {
  const h = Q.a / n;
  let s = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const y = [Q.a * k[0] + Q.b + (i + 0.5) * h, Q.a * k[1] + Q.b + (j + 0.5) * h];
      s += Math.exp(model.logpHost(y, T_MIN));
    }
  }
  return -Math.log(s * h * h);
}
const TRUTH = LEVELS.map((k) => trueNll(k));

const logpAtTMin = (y: Tensor) =>
  model.logp(y, tensor(y.backend, new Float64Array(y.shape[0]).fill(T_MIN), [y.shape[0]], y.dtype));

/** Each level repeated `reps` times: independent draws per row (rows key the streams). */
function repeated(reps: number): Float64Array {
  return Float64Array.from(Array.from({ length: reps }, () => LEVELS.flat()).flat());
}

/** −(K-draw bound) per level and repetition ([level][rep]), `reps` independent repetitions. */
async function bounds(
  d: VariationalDequantizer | null,
  K: number,
  reps: number,
  c: BackendCase,
  seed: number,
): Promise<number[][]> {
  const k = tensor(c.backend, repeated(reps), [reps * LEVELS.length, D], c.dtype);
  const lp = await importanceWeightedLogProb(d, k, K, logpAtTMin, Rng.fromSeed(seed), 0, Q);
  k.dispose();
  return LEVELS.map((_, l) => Array.from({ length: reps }, (_, r) => -lp[r * LEVELS.length + l]));
}

/** Mean and its standard error. */
function stats(v: number[]): { mean: number; se: number } {
  const n = v.length, mean = v.reduce((s, x) => s + x, 0) / n;
  return { mean, se: Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1) / n) };
}

const FLOW: CouplingFlowConfig = { kind: "vector", dim: D, couplings: 3, hidden: 16 };

async function trained(c: BackendCase) {
  const d = initDequantizer(c.backend, Rng.fromSeed(1), { flow: FLOW, quantization: Q }, c.dtype);
  await trainDequantizer(model, { values: Float64Array.from(LEVELS.flat()), n: LEVELS.length }, d, {
    objective: "exact",
    tMin: T_MIN,
    steps: 80,
    batch: 64,
    lr: 1.2e-2,
    clip: 0,
    rng: Rng.fromSeed(2),
    logEvery: 0,
  });
  return d;
}

eachBackend(
  "variational dequantisation: beats uniform, bounds −log P(k) from above, tightens with K",
  async (c) => {
    const d = await trained(c);
    // uniform and variational draws share their uniforms (same seed): compare them paired
    const uniform = await bounds(null, 1, 1024, c, 5);
    const v1 = await bounds(d, 1, 1024, c, 5);
    const v16 = await bounds(d, 16, 256, c, 6);
    LEVELS.forEach((k, l) => {
      const gain = stats(uniform[l].map((u, r) => u - v1[l][r]));
      const [s1, s16] = [stats(v1[l]), stats(v16[l])];
      const at = `k = [${k}]: truth ${TRUTH[l].toFixed(4)}, uniform ${
        stats(uniform[l]).mean.toFixed(4)
      }, variational K=1 ${s1.mean.toFixed(4)} ± ${s1.se.toFixed(4)}, K=16 ${
        s16.mean.toFixed(4)
      } ± ${s16.se.toFixed(4)}`;
      assert.ok(gain.mean > 3 * gain.se, `beats uniform by ${gain.mean} ± ${gain.se}, ${at}`);
      assert.ok(s1.mean > TRUTH[l] - 4 * s1.se, `K=1 above the truth, ${at}`);
      assert.ok(s16.mean > TRUTH[l] - 4 * s16.se, `K=16 above the truth, ${at}`);
      assert.ok(
        s16.mean - TRUTH[l] < 0.5 * (s1.mean - TRUTH[l]) + 4 * s16.se,
        `the gap shrinks with K, ${at}`,
      );
    });
  },
);

eachBackend(
  "variational dequantisation through the PF-ODE agrees with the closed-form density",
  async (c) => {
    const d = initDequantizer(c.backend, Rng.fromSeed(3), { flow: FLOW, quantization: Q }, c.dtype);
    // an untrained flow is uniform dequantisation; perturb it so q is not trivial
    d.params = perturbed(d.params, 0.3, 4);
    const values = Float64Array.from(LEVELS.flat());
    const rng = Rng.fromSeed(7);
    const ode = await evaluateVariationalNll(model, { values, n: LEVELS.length }, d, {
      backend: c.backend,
      dtype: c.dtype,
      tMin: T_MIN,
      rtol: 1e-5,
      atol: 1e-5,
      divergence: "exact",
      probe: "rademacher",
      probes: 1,
      dequantSamples: 2,
      prior: "exact",
      batch: 8,
      rng,
      firstIndex: 0,
    });
    const k = tensor(c.backend, values, [LEVELS.length, D], c.dtype);
    const exact = await importanceWeightedLogProb(d, k, 2, logpAtTMin, rng, 0);
    assertAllClose(
      ode.map((e) => e.nll),
      Array.from(exact, (v) => -v),
      tol.iwDequantOdeNll,
      "PF-ODE against closed-form IW bound",
    );
  },
);

/** Every weight plus scale·N(0, 1): couplings that are no longer the identity. */
function perturbed<T extends Parameters<typeof mapTree>[0]>(p: T, scale: number, seed: number): T {
  const rng = Rng.fromSeed(seed);
  return mapTree(
    p,
    (t, name) => add(t, mul(rng.derive(name).normal(t.backend, t.shape, t.dtype), scale)),
  );
}

/** log|det| of a dense n × n matrix (row-major) by Gaussian elimination with partial pivoting. */
function logAbsDet(m: Float64Array, n: number): number {
  const a = Float64Array.from(m);
  let s = 0;
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]) > Math.abs(a[piv * n + c])) piv = r;
    if (piv !== c) {
      for (let j = 0; j < n; j++) [a[c * n + j], a[piv * n + j]] = [a[piv * n + j], a[c * n + j]];
    }
    s += Math.log(Math.abs(a[c * n + c]));
    for (let r = c + 1; r < n; r++) {
      const f = a[r * n + c] / a[c * n + c];
      for (let j = c; j < n; j++) a[r * n + j] -= f * a[c * n + j];
    }
  }
  return s;
}

for (
  const flow of [
    { kind: "vector", dim: 3, couplings: 4, hidden: 8 },
    { kind: "image", shape: [2, 4, 4], couplings: 3, hidden: 4 },
  ] as CouplingFlowConfig[]
) {
  Deno.test(`coupling flow (${flow.kind}): its log-determinant against finite differences`, async () => {
    const be = referenceBackend();
    const shape = flow.kind === "vector" ? [flow.dim] : flow.shape;
    const n = shape.reduce((p, v) => p * v, 1);
    const p = perturbed(initCouplingFlow(be, Rng.fromSeed(8), flow, "f64"), 0.1, 9);
    const eps0 = await Rng.fromSeed(10).normal(be, [1, ...shape], "f64").read();
    const context = Rng.fromSeed(11).normal(be, [1, ...shape], "f64");
    // the couplings' map ε → x (before the sigmoid, whose Jacobian is diagonal and known)
    const u = async (e: Float64Array) =>
      await couplingFlowForward(p, flow, tensor(be, e, [1, ...shape], "f64"), context).preSigmoid
        .read();
    const jac = new Float64Array(n * n), h = 1e-6;
    for (let j = 0; j < n; j++) {
      const plus = Float64Array.from(eps0), minus = Float64Array.from(eps0);
      plus[j] += h;
      minus[j] -= h;
      const [up, um] = [await u(plus), await u(minus)];
      for (let i = 0; i < n; i++) jac[i * n + j] = (up[i] - um[i]) / (2 * h);
    }
    const eps = tensor(be, eps0, [1, ...shape], "f64");
    const r = couplingFlowForward(p, flow, eps, context);
    // log q = log p(ε) − log|det ∂x/∂ε| − log σ′(x), with log σ′(x) = −softplus(−x) − softplus(x)
    const logistic = (v: Tensor) => sumPerExample(mul(add(softplus(mul(v, -1)), softplus(v)), -1));
    const logdet = (await logistic(eps).item()) - (await r.logq.item()) -
      (await logistic(r.preSigmoid).item());
    const numeric = logAbsDet(jac, n);
    assertAllClose([logdet], [numeric], tol.flowLogDetFiniteDiff, "log|det ∂x/∂ε|");
    // and the gradients of log q (through the log-dets) in ε and in one coupling's weights
    await checkVjp((e) => couplingFlowForward(p, flow, e, context).logq, eps, 12, "∂ log q/∂ε");
    const w = p.couplings[1].w0;
    await checkVjp(
      (wv) => {
        const swapped = { couplings: p.couplings.map((l, i) => (i === 1 ? { ...l, w0: wv } : l)) };
        return couplingFlowForward(swapped, flow, eps, context).logq;
      },
      w,
      13,
      "∂ log q/∂w",
    );
  });
}

Deno.test("an untrained dequantiser is uniform dequantisation: u = U and log q = 0", async () => {
  const be = referenceBackend();
  const d = initDequantizer(be, Rng.fromSeed(1), { flow: FLOW, quantization: Q }, "f64");
  const k = tensor(be, LEVELS.flat(), [LEVELS.length, D], "f64");
  const lp = await importanceWeightedLogProb(d, k, 3, logpAtTMin, Rng.fromSeed(4), 0);
  const un = await importanceWeightedLogProb(null, k, 3, logpAtTMin, Rng.fromSeed(4), 0, Q);
  // the same uniforms, squeezed by 1e-6 before the logit: a shift of u below 1e-6
  assertAllClose(lp, un, tol.untrainedDequantizerIsUniform, "bounds");
});

Deno.test("a dequantiser file round-trips, and other files are refused", async () => {
  const be = referenceBackend();
  const d = initDequantizer(be, Rng.fromSeed(1), { flow: FLOW, quantization: Q }, "f64");
  d.params = perturbed(d.params, 0.2, 3);
  const dir = await Deno.makeTempDir();
  try {
    await saveDequantizer(`${dir}/q.safetensors`, d);
    const back = await loadDequantizer(`${dir}/q.safetensors`, be, "f64");
    assert.deepEqual(back.config, d.config);
    const k = tensor(be, LEVELS.flat(), [LEVELS.length, D], "f64");
    const a = await importanceWeightedLogProb(d, k, 2, logpAtTMin, Rng.fromSeed(4), 0);
    const b = await importanceWeightedLogProb(back, k, 2, logpAtTMin, Rng.fromSeed(4), 0);
    assert.deepEqual(Array.from(b), Array.from(a));
    await Deno.writeTextFile(`${dir}/bad.safetensors`, "not a safetensors file");
    await assert.rejects(() => loadDequantizer(`${dir}/bad.safetensors`, be, "f64"), InputError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train-dequantizer then eval-nll --dequant variational, from the command line", async () => {
  const dir = await Deno.makeTempDir();
  const pts = `${dir}/ints.csv`, q = `${dir}/q.safetensors`;
  // integer points near the mixture's modes: one unit bins, where its density varies
  await Deno.writeTextFile(pts, "x,y\n1,0\n0,-1\n-2,1\n1,1\n-1,0\n2,-1\n0,0\n-1,-1\n");
  const data = ["--model", "gmm:fixtures/mix2d.json", "--data", `points:${pts},discrete`];
  const common = ["--backend", "reference", "--quiet"];
  const trained = await runMain([
    "train-dequantizer",
    ...data,
    "--steps",
    "40",
    "--batch",
    "8",
    "--out",
    q,
    ...common,
  ]);
  assert.equal(trained.code, 0, trained.stderr);
  const evaluate = async (how: string[]) => {
    const r = await runMain(["eval-nll", ...data, ...how, "--json", "--seed", "3", ...common]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const uniform = await evaluate(["--dequant", "uniform"]);
  const variational = await evaluate(["--dequant", "variational", "--dequantizer", q]);
  assert.equal(variational.dequantization, "variational");
  assert.equal(variational.n, 8);
  // trained on these very points with the exact log p: a tighter bound than uniform's
  assert.ok(
    variational.bpd < uniform.bpd,
    `variational ${variational.bpd} should be below uniform ${uniform.bpd} bits/dim`,
  );
  // the file alone, or the kind alone, is a usage error
  const alone = await runMain(["eval-nll", ...data, "--dequantizer", q, ...common]);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--dequant variational/);
});
