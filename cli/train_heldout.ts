/**
 * The end of a training run: the held-out NLL of the EMA weights through the eval-nll machinery
 * (exact divergence in low D) and, for Likelihood Matching, its chain's bound beside it.
 */

import { type Backend, type DType, Rng } from "../compute/mod.ts";
import { Progress } from "../io/progress.ts";
import { evaluateNll } from "../eval/nll.ts";
import { likelihoodTMin } from "../eval/dequantization.ts";
import { evaluateLmBound } from "../eval/lm_bound_eval.ts";
import type { LmBoundModel } from "../eval/lm_bound.ts";
import type { NetworkScoreModel } from "../nn/score_network.ts";
import type { TrainConfig } from "../train/config.ts";
import type { TrainData } from "../train/data.ts";

/** Steps of the Likelihood-Matching chain whose bound a run reports beside its PF-ODE NLL. */
const LM_BOUND_STEPS = 100;

export interface HeldOutOptions {
  backend: Backend;
  dtype: DType;
  /** at most this many held-out examples */
  examples: number;
  quiet: boolean;
  /** called between batches: a Ctrl-C asks to exit */
  poll: () => void;
  log: (line: string) => void;
}

/** The `heldout` part of a run's summary. */
export async function heldOutNll(
  model: NetworkScoreModel,
  data: TrainData,
  config: TrainConfig,
  o: HeldOutOptions,
) {
  const { backend, dtype, poll } = o;
  const n = Math.min(o.examples, data.nHeldOut);
  const D = data.train.shape.reduce((p, d) => p * d, 1);
  const dequantization = data.quantization ? "uniform" : "none";
  const evalTMin = likelihoodTMin(model.sde, dequantization);
  const evalStart = performance.now();
  o.log(`final evaluation: held-out NLL of the EMA weights on ${n} examples`);
  const results = await evaluateNll(model, {
    values: data.heldOut.subarray(0, n * D),
    n,
    quantization: data.quantization,
  }, {
    backend,
    dtype,
    tMin: evalTMin,
    rtol: 1e-5,
    atol: 1e-5,
    divergence: D <= 8 ? "exact" : "hutchinson",
    probe: "rademacher",
    probes: 1,
    dequantization,
    dequantSamples: 1,
    prior: "standard",
    batch: D <= 64 ? 256 : 16,
    rng: Rng.fromSeed(config.seed).derive("eval"),
    firstIndex: 0,
  }, new Progress("held-out NLL", n, "examples", o.quiet, { poll }));
  const [nll, se] = meanAndStderr(results.map((r) => r.nll));
  let lmBound: Record<string, number> | null = null;
  if (config.lm) {
    const bounds = await evaluateLmBound(model as LmBoundModel & NetworkScoreModel, {
      values: data.heldOut.subarray(0, n * D),
      n,
      quantization: data.quantization,
    }, {
      backend,
      dtype,
      tMin: evalTMin,
      steps: LM_BOUND_STEPS,
      batch: D <= 64 ? 256 : 16,
      rng: Rng.fromSeed(config.seed).derive("lm-bound"),
    }, new Progress("held-out LM bound", n, "examples", o.quiet, { poll }));
    const [m, e] = meanAndStderr([...bounds]);
    lmBound = { nll_nats: m, nll_stderr: e, bpd: m / (D * Math.LN2), steps: LM_BOUND_STEPS };
  }
  return {
    n,
    nll_nats: nll,
    nll_stderr: se,
    bpd: nll / (D * Math.LN2),
    bpd_stderr: se / (D * Math.LN2),
    dequantization,
    t_min: evalTMin,
    divergence: D <= 8 ? "exact" : "hutchinson",
    seconds: (performance.now() - evalStart) / 1000,
    lm_bound: lmBound,
  };
}

function meanAndStderr(v: number[]): [number, number] {
  const m = v.reduce((s, x) => s + x, 0) / v.length;
  const se = v.length > 1
    ? Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1) / v.length)
    : 0;
  return [m, se];
}
