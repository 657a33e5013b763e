/**
 * The foundation's vertical spike, on each backend, with the main trainer on two isotropic
 * blobs (fixtures/two_blobs.json): (a) DSM training of the ε-prediction MLP, (b) flow matching
 * with the second-order (divergence) term, (c) the PF-ODE log-likelihood of points under the
 * exact mixture score with exact divergence and per-example Dormand–Prince control, compared
 * between float32 and float64.
 */

import { type Backend, referenceBackend, tensor } from "../compute/mod.ts";
import { GmmModel } from "../data/gmm_model.ts";
import { mixtureTrainer, spikeConfig } from "../train/tiny_run.ts";
import { pfOdeLogLikelihood } from "../sde/likelihood.ts";
import { VpSde } from "../sde/vp.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const VP = new VpSde();
const TWO_BLOBS = await GmmModel.load(`${ROOT}fixtures/two_blobs.json`, VP);

export interface TrainFigures {
  backend: string;
  objective: string;
  highOrder: number;
  batch: number;
  steps: number;
  msPerStep: number;
  dispatchesPerStep: number;
  pipelinesCompiled: number;
  liveBytesAtStep10: number;
  liveBytesAtEnd: number;
  firstLoss: number;
  lastLoss: number;
}

export interface LikelihoodFigures {
  backend: string;
  dtype: string;
  points: number;
  ms: number;
  nfe: number;
  steps: number;
  logp: number[];
  /** mean |log p − closed-form log p_{t_min}| (standard-prior mismatch included) */
  meanAbsErrorVsClosedForm: number;
}

/** Trains `steps` steps, timing all but the first (which compiles pipelines). */
export async function spikeTraining(
  backend: Backend,
  highOrder: number,
  steps: number,
  batch: number,
): Promise<TrainFigures> {
  const config = { ...spikeConfig(ROOT, highOrder), batch };
  const trainer = await mixtureTrainer(config, backend, "f32");
  const warm = trainer.trainStep();
  const firstLoss = await warm.item();
  warm.dispose();
  const before = backend.stats();
  let liveBytesAtStep10 = 0, lastLoss = NaN;
  const start = performance.now();
  for (let s = 1; s <= steps; s++) {
    const loss = trainer.trainStep();
    if (s === steps) lastLoss = await loss.item();
    loss.dispose();
    if (s === 10) liveBytesAtStep10 = backend.liveBytes();
  }
  const msPerStep = (performance.now() - start) / steps;
  const after = backend.stats();
  const figures = {
    backend: backend.name,
    objective: config.objective,
    highOrder,
    batch,
    steps,
    msPerStep,
    dispatchesPerStep: (after.dispatches - before.dispatches) / steps,
    pipelinesCompiled: after.pipelines,
    liveBytesAtStep10,
    liveBytesAtEnd: backend.liveBytes(),
    firstLoss,
    lastLoss,
  };
  trainer.dispose();
  return figures;
}

/** Fixed evaluation points spread over both clusters and the gap between them. */
export const SPIKE_POINTS = [
  [-2, 0.5],
  [1.5, -1],
  [-0.2, -0.3],
  [0.9, -1.6],
  [-2.4, 0.9],
  [2.1, -0.4],
  [0, 1],
  [3, -2],
];

export async function spikeLikelihood(
  backend: Backend,
  dtype: "f32" | "f64",
): Promise<LikelihoodFigures> {
  const tMin = 1e-5;
  const x = tensor(backend, SPIKE_POINTS.flat(), [SPIKE_POINTS.length, 2], dtype);
  const start = performance.now();
  const r = await pfOdeLogLikelihood((xt, t) => TWO_BLOBS.score(xt, t), VP, x, {
    tMin,
    tMax: 1,
    rtol: 1e-5,
    atol: 1e-5,
    divergence: { method: "exact" },
  });
  const ms = performance.now() - start;
  x.dispose();
  const exact = SPIKE_POINTS.map((p) => TWO_BLOBS.logpHost(p, tMin));
  const err = exact.reduce((s, e, i) => s + Math.abs(r.logp[i] - e), 0) / exact.length;
  return {
    backend: backend.name,
    dtype,
    points: SPIKE_POINTS.length,
    ms,
    nfe: r.nfe,
    steps: r.steps,
    logp: [...r.logp],
    meanAbsErrorVsClosedForm: err,
  };
}

/** Runs the whole spike on the given backends (the reference adds a float64 likelihood run). */
export async function runSpike(
  backends: Backend[],
  steps: number,
  batch: number,
  log: (s: string) => void,
) {
  const training: TrainFigures[] = [];
  const likelihood: LikelihoodFigures[] = [];
  for (const be of backends) {
    for (const highOrder of [0, 0.1]) {
      log(`spike: training on ${be.name}, high-order weight ${highOrder}, ${steps} steps`);
      training.push(await spikeTraining(be, highOrder, steps, batch));
    }
    log(`spike: PF-ODE likelihood on ${be.name}`);
    likelihood.push(await spikeLikelihood(be, "f32"));
  }
  log("spike: PF-ODE likelihood on reference float64");
  const f64 = await spikeLikelihood(referenceBackend(), "f64");
  likelihood.push(f64);
  const float32Error = likelihood.filter((l) => l.dtype === "f32").map((l) => ({
    backend: l.backend,
    maxAbsLogpErrorVsFloat64: Math.max(...l.logp.map((v, i) => Math.abs(v - f64.logp[i]))),
  }));
  return { training, likelihood, float32Error };
}
