/**
 * Likelihood Matching against score matching at equal wall time on the toy 2-D mixture:
 * (a) held-out PF-ODE NLL and the LM chain bound, (b) squared MMD of samples to 2,000 held-out
 * points (Gaussian kernel, median-distance bandwidth) at 10, 20, 50 and 200 sampler steps —
 * Euler–Maruyama for every model and the LM sampler for LM models, (c) the rank r ∈ {0, 1, 2},
 * (d) training steps per second.
 *
 *   deno run -A bench/lm_vs_dsm.ts [--seconds 120] [--backend webgpu] [--eval 300]
 */

import { parseArgs } from "node:util";
import { mul, Rng, selectBackend } from "../compute/mod.ts";
import { evaluateNll } from "../eval/nll.ts";
import { evaluateLmBound } from "../eval/lm_bound_eval.ts";
import { mmd2, rows } from "../eval/mmd.ts";
import { headNetwork } from "../nn/covariance_head.ts";
import type { NetworkScoreModel } from "../nn/score_network.ts";
import { eulerMaruyama, uniformTimeGrid } from "../sample/samplers/euler_maruyama.ts";
import { lmSample } from "../sample/samplers/lm.ts";
import { logSnrGrid } from "../sde/log_snr_grid.ts";
import { makeSde, sdeToJson } from "../sde/processes.ts";
import type { TrainConfig } from "../train/config.ts";
import { resolveTrainData } from "../train/data.ts";
import { ADAM_DEFAULT } from "../compute/optim/adam.ts";
import { PRESETS, TOY_MIXTURE } from "../train/presets.ts";
import { Trainer } from "../train/trainer.ts";
import type { LmBoundModel } from "../eval/lm_bound.ts";
import { GmmModel } from "../data/gmm_model.ts";
import { loadGmmSpec } from "../data/gmm_spec.ts";

const { values: f } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "120" },
    backend: { type: "string", default: "auto" },
    eval: { type: "string", default: "300" },
  },
});
const seconds = Number(f.seconds), nEval = Number(f.eval);
const backend = await selectBackend(f.backend as "auto", (s) => console.error(s));
const sde = makeSde("vp");
const data = await resolveTrainData(TOY_MIXTURE, 8192, Rng.fromSeed(0).derive("data"), sde);
const toy = PRESETS.toy, model = { ...toy.model, dim: 2 } as TrainConfig["model"];

function config(lmRank: number | null): TrainConfig {
  return {
    data: TOY_MIXTURE,
    nTrain: 8192,
    model,
    objective: lmRank === null ? "dsm" : "lm",
    weighting: "likelihood",
    timeSampling: lmRank === null ? "importance" : "uniform",
    param: "eps",
    sde: sdeToJson(sde),
    tMin: sde.tMinLikelihood,
    highOrder: 0,
    batch: toy.batch,
    adam: { ...ADAM_DEFAULT, lr: toy.lr },
    warmup: toy.warmup,
    clip: 1,
    ema: toy.ema,
    seed: 0,
    initFrom: null,
    dequant: "none",
    flip: false,
    lm: lmRank === null
      ? null
      : { rank: lmRank, timePoints: 4, freezeScore: false, head: headNetwork(model, lmRank) },
  };
}

async function trainFor(
  c: TrainConfig,
): Promise<{ trainer: Trainer; steps: number; rate: number }> {
  const trainer = new Trainer(backend, "f32", c, data.train);
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    const loss = trainer.trainStep();
    if (trainer.step % 50 === 0) await loss.item(); // keep the queue short, read rarely
    loss.dispose();
  }
  return {
    trainer,
    steps: trainer.step,
    rate: trainer.step / ((performance.now() - start) / 1000),
  };
}

// 2,000 fresh draws of the mixture as the MMD reference (held out by construction), and a
// second 2,000 for the estimator's floor
const mixture = new GmmModel(await loadGmmSpec(TOY_MIXTURE.slice(4)), sde);
const draw = async (key: string) =>
  rows(await mixture.sample(Rng.fromSeed(7).derive(key), backend, 2000, "f32").read(), 2000);
const heldOut = await draw("reference");
const floor = mmd2(await draw("floor"), heldOut);
async function sampleMmd(m: NetworkScoreModel, steps: number, lm: boolean): Promise<number> {
  const n = 2000, rng = Rng.fromSeed(5);
  const xT = mul(rng.derive("prior").normal(backend, [n, 2], "f32"), sde.priorStd);
  const out = lm
    ? lmSample(m, sde, xT, logSnrGrid(sde, sde.T, sde.tMinSampling, steps), rng.derive("lm"))
    : eulerMaruyama(
      (x, t) => m.score(x, t),
      sde,
      xT,
      uniformTimeGrid(sde.T, sde.tMinSampling, steps),
      rng.derive("em"),
    );
  const values = await out.x.read();
  out.x.dispose();
  xT.dispose();
  return mmd2(rows(values, n), heldOut.slice(0, n));
}

const runs: [string, number | null][] = [["dsm likelihood + importance", null], ["lm r = 0", 0], [
  "lm r = 1",
  1,
], ["lm r = 2", 2]];
console.log(
  `| model (${seconds} s of training) | steps (steps/s) | held-out PF-ODE NLL | LM chain bound (100 steps) | sampler | MMD² at 10 | 20 | 50 | 200 |`,
);
console.log("|---|---|---|---|---|---|---|---|---|");
for (const [name, rank] of runs) {
  const { trainer, steps, rate } = await trainFor(config(rank));
  const m = trainer.model(true);
  const nll = await evaluateNll(m, {
    values: data.heldOut.subarray(0, nEval * 2),
    n: nEval,
    quantization: null,
  }, {
    backend,
    dtype: "f32",
    tMin: sde.tMinLikelihood,
    rtol: 1e-5,
    atol: 1e-5,
    divergence: "exact",
    probe: "rademacher",
    probes: 1,
    dequantization: "none",
    dequantSamples: 1,
    prior: "standard",
    batch: 300,
    rng: Rng.fromSeed(1),
    firstIndex: 0,
  });
  const meanNll = nll.reduce((s, r) => s + r.nll, 0) / nEval;
  let bound = "–";
  if (rank !== null) {
    const b = await evaluateLmBound(m as NetworkScoreModel & LmBoundModel, {
      values: data.heldOut.subarray(0, nEval * 2),
      n: nEval,
      quantization: null,
    }, {
      backend,
      dtype: "f32",
      tMin: sde.tMinLikelihood,
      steps: 100,
      batch: 300,
      rng: Rng.fromSeed(2),
    });
    bound = (b.reduce((s, v) => s + v, 0) / nEval).toFixed(3);
  }
  for (const lm of rank === null ? [false] : [false, true]) {
    const mmds = [];
    for (const k of [10, 20, 50, 200]) mmds.push((await sampleMmd(m, k, lm)).toExponential(2));
    console.log(
      `| ${name} | ${steps} (${rate.toFixed(1)}) | ${meanNll.toFixed(3)} | ${bound} | ${
        lm ? "LM" : "Euler–Maruyama"
      } | ${mmds.join(" | ")} |`,
    );
  }
}
console.log(
  `\ndata entropy ${data.entropy?.toFixed(3)} nats (Monte Carlo); MMD² of 2,000 fresh draws of ` +
    `the mixture itself: ${floor.toExponential(2)} (the estimator's floor)`,
);
