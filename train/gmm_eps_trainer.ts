/**
 * A complete training step for an ε-prediction MLP on samples of an analytic mixture under
 * the VP process: data, times and noise drawn on the device, loss and gradients, fused Adam,
 * all recorded without a single host wait. The foundation's vertical spike; the general
 * `train` command builds on the same pieces.
 */

import {
  add,
  type Backend,
  type DType,
  mean,
  mul,
  reshape,
  Rng,
  stopGradient,
  type Tensor,
  tidy,
  valueAndGrad,
} from "../compute/mod.ts";
import { initMlp, type MlpConfig, mlpForward, type MlpParams } from "../nn/mlp.ts";
import { gmmSample, type IsoGmm } from "../sde/gmm.ts";
import { VpSde } from "../sde/vp.ts";
import { dsmEpsLoss } from "./objectives/dsm.ts";
import { highOrderEpsLoss } from "./objectives/high_order.ts";
import { ADAM_DEFAULT, type AdamConfig, type AdamState, adamStep, initAdam } from "./optim/adam.ts";

export interface GmmTrainerConfig {
  gmm: IsoGmm;
  mlp: MlpConfig;
  batch: number;
  adam: AdamConfig;
  /** weight of the second-order (divergence) term; 0 trains plain DSM */
  highOrder: number;
  tMin: number;
  seed: number;
  dtype: DType;
}

export const SPIKE_MLP: MlpConfig = { dim: 2, hidden: 128, layers: 3, timeFeatures: 32 };

export function spikeConfig(highOrder: number): GmmTrainerConfig {
  return {
    gmm: { weights: [0.3, 0.7], means: [[-2, 0.5], [1.5, -1]], stds: [0.4, 0.6] },
    mlp: SPIKE_MLP,
    batch: 256,
    adam: { ...ADAM_DEFAULT, lr: 1e-3 },
    highOrder,
    tMin: 1e-3,
    seed: 0,
    dtype: "f32",
  };
}

export class GmmEpsTrainer {
  readonly params: MlpParams;
  readonly adam: AdamState<MlpParams>;
  readonly rng: Rng;
  stepCount = 0;
  readonly sde = new VpSde();

  constructor(readonly backend: Backend, readonly cfg: GmmTrainerConfig) {
    this.rng = Rng.fromSeed(cfg.seed);
    this.params = initMlp(backend, this.rng.derive("init"), cfg.mlp, cfg.dtype);
    this.adam = initAdam(this.params);
  }

  /** ε̂(x, t) of the current parameters. */
  eps(params: MlpParams = this.params): (x: Tensor, t: Tensor) => Tensor {
    return (x, t) => mlpForward(params, this.cfg.mlp, x, t);
  }

  /** One optimiser step; returns the batch-mean loss (no graph attached, not yet read). */
  step(): Tensor {
    const { backend, cfg } = this;
    const rng = this.rng.derive("step").derive(this.stepCount++);
    return tidy(() => {
      const x0 = gmmSample(cfg.gmm, rng.derive("data"), backend, cfg.batch, cfg.dtype);
      const u = rng.derive("time").uniform(backend, [cfg.batch], cfg.dtype);
      const t = add(mul(u, 1 - cfg.tMin), cfg.tMin);
      const z = rng.derive("noise").normal(backend, x0.shape, cfg.dtype);
      const { alpha, sigma } = this.sde.alphaSigmaT(t);
      const col = (v: Tensor) => reshape(v, [cfg.batch, 1]);
      const xt = add(mul(col(alpha), x0), mul(col(sigma), z));
      const probe = cfg.highOrder > 0
        ? rng.derive("probe").rademacher(backend, x0.shape, cfg.dtype)
        : null;
      const { value, grad } = valueAndGrad((p: MlpParams) => {
        if (!probe) return mean(dsmEpsLoss(this.eps(p), xt, t, z));
        const parts = highOrderEpsLoss(this.eps(p), xt, t, z, sigma, probe, cfg.highOrder);
        return mean(add(parts.firstOrder, parts.secondOrder));
      })(this.params);
      adamStep(this.params, grad, this.adam, cfg.adam);
      return stopGradient(value);
    });
  }
}
