/**
 * The gain of variational over uniform dequantisation on MNIST, in bits/dim (not CI). Trains a
 * dequantiser on a trained score model's ScoreFlow bound (train/dequantizer_train.ts), then
 * evaluates the same test digits through the PF-ODE under both dequantisations, with the same
 * uniforms, probes and seed, so the per-digit difference is paired; prints both bits/dim, the
 * mean gain ± its standard error, and the one-draw bound's −ELBO before and after training (its
 * (t, z) noise is large; the change is paired over the same draws).
 *
 *   deno run -A bench/variational_dequant.ts --ckpt runs/mnist/ckpt.safetensors \
 *     [--steps 200] [--batch 16] [--lr 2e-3] [--train 2000] [--test 16] [--samples 1] \
 *     [--backend cpu] [--out q.safetensors]
 *
 * Figures (docs/variational_dequantization.md §6) came from --steps 300 --test 16, about 6 min
 * on a shared 2-core CPU. Without a checkpoint, train a small one first (18.5 min there):
 *   deno task train --preset mnist --backend cpu --steps 600 --base 16 --mults 1,2,2 --attn "" \
 *     --groups 4 --lr 2e-3 --warmup 50 --ema 0.99 --grid 0 --eval-examples 4 --out runs/mnist
 */

import { parseArgs } from "node:util";
import { type DType, noGrad, Rng, selectBackend, sizeOf, tensor } from "../compute/mod.ts";
import { loadModel } from "../cli/load_model.ts";
import { resolveData } from "../eval/resolve.ts";
import { likelihoodTMin } from "../eval/dequantization.ts";
import { evaluateNll, type NllOptions } from "../eval/nll.ts";
import { evaluateVariationalNll, saveDequantizer } from "../eval/variational_dequant.ts";
import { initDequantizer, type VariationalDequantizer } from "../nn/dequantizer.ts";
import { trainDequantizer } from "../train/dequantizer_train.ts";
import { elboDraw } from "../train/dequantizer_objective.ts";
import { meanStderr } from "../io/statistics.ts";
import type { DiffusionModel } from "../sde/model.ts";

const { values: f } = parseArgs({
  args: Deno.args,
  options: {
    ckpt: { type: "string", default: "runs/mnist/ckpt.safetensors" },
    steps: { type: "string", default: "200" },
    batch: { type: "string", default: "16" },
    lr: { type: "string", default: "2e-3" },
    couplings: { type: "string", default: "4" },
    hidden: { type: "string", default: "16" },
    train: { type: "string", default: "2000" },
    test: { type: "string", default: "16" },
    samples: { type: "string", default: "1" },
    backend: { type: "string", default: "cpu" },
    out: { type: "string" },
  },
});

const backend = await selectBackend(f.backend as "cpu", (l) => console.error(l));
const dtype: DType = backend.supports("f64") ? "f64" : "f32";
const model = await loadModel({ ckpt: f.ckpt, weights: "ema" }, backend, dtype);
const seed = 0, rng = Rng.fromSeed(seed);
const trainSet = await resolveData("mnist", model, {
  split: "train",
  limit: Number(f.train),
  rng: rng.derive("data"),
  backend,
  dtype,
});
const testSet = await resolveData("mnist", model, {
  split: "test",
  limit: Number(f.test),
  rng: rng.derive("data"),
  backend,
  dtype,
});
const D = sizeOf(model.shape), q = trainSet.quantization!;
const tMin = likelihoodTMin(model.sde, "variational");
const bpd = (nats: number) => nats / (D * Math.LN2);

const d = initDequantizer(backend, Rng.fromSeed(1), {
  flow: {
    kind: "image",
    shape: model.shape as [number, number, number],
    couplings: Number(f.couplings),
    hidden: Number(f.hidden),
  },
  quantization: q,
}, dtype);

/**
 * The one-draw bound's −ELBO per test digit and draw (bits/dim), draws keyed by `reps` fixed
 * streams, so values before and after training pair up.
 */
async function boundElbo(m: DiffusionModel, dq: VariationalDequantizer, reps: number) {
  const values: number[] = [];
  for (let r = 0; r < reps; r++) {
    const k = tensor(backend, testSet.values, [testSet.n, ...model.shape], dtype);
    const ell = noGrad(() =>
      elboDraw(m, dq, dq.params, k, {
        objective: "bound",
        tMin,
        rng: Rng.fromSeed(100).derive(r),
      })
    );
    (await ell.read()).forEach((v) => values.push(-bpd(v)));
    k.dispose();
  }
  return values;
}

const before = await boundElbo(model, d, 8);
const started = performance.now();
await trainDequantizer(model, trainSet, d, {
  objective: "bound",
  tMin,
  steps: Number(f.steps),
  batch: Number(f.batch),
  lr: Number(f.lr),
  clip: 0,
  rng: Rng.fromSeed(2),
  logEvery: 25,
  log: (l) => console.error(l),
});
const trainSeconds = (performance.now() - started) / 1000;
const after = await boundElbo(model, d, 8);
if (f.out) await saveDequantizer(f.out, d);

const options: Omit<NllOptions, "dequantization"> = {
  backend,
  dtype,
  tMin,
  rtol: 1e-5,
  atol: 1e-5,
  divergence: "hutchinson",
  probe: "rademacher",
  probes: 1,
  dequantSamples: Number(f.samples),
  prior: "standard",
  batch: 8,
  rng: Rng.fromSeed(seed),
  firstIndex: 0,
};
const evalStarted = performance.now();
const uniform = await evaluateNll(model, testSet, { ...options, dequantization: "uniform" });
const variational = await evaluateVariationalNll(model, testSet, d, options);
const evalSeconds = (performance.now() - evalStarted) / 1000;
const u = meanStderr(uniform.map((e) => bpd(e.nll)));
const v = meanStderr(variational.map((e) => bpd(e.nll)));
const gain = meanStderr(uniform.map((e, i) => bpd(e.nll - variational[i].nll)));
const fmt = (s: { mean: number; stderr: number }) =>
  `${s.mean.toFixed(4)} ± ${s.stderr.toFixed(4)}`;
console.log(`model ${model.description}; ${testSet.description}`);
console.log(
  `dequantiser: ${f.couplings} checkerboard couplings of ${f.hidden} channels, ${f.steps} Adam steps of ${f.batch} train digits (lr ${f.lr}) on the ScoreFlow bound, ${
    trainSeconds.toFixed(0)
  } s on ${backend.name}`,
);
console.log(
  `one-draw bound −ELBO on the test digits (8 draws each, bits/dim): before ${
    fmt(meanStderr(before))
  }, after ${fmt(meanStderr(after))}, change ${
    fmt(meanStderr(after.map((a, i) => a - before[i])))
  } (paired)`,
);
console.log(
  `PF-ODE (Hutchinson, 1 probe, K = ${f.samples}), ${testSet.n} test digits, ${
    evalSeconds.toFixed(0)
  } s:`,
);
console.log(`  uniform      ${fmt(u)} bits/dim`);
console.log(`  variational  ${fmt(v)} bits/dim`);
console.log(`  gain         ${fmt(gain)} bits/dim (paired: same uniforms, probes and seed)`);
