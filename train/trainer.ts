/**
 * One training run's state and its step: batch from a per-epoch shuffled order, noise and
 * times from streams keyed by the step, loss and gradients, clipping, fused Adam with warm-up,
 * EMA — recorded without a host wait. The loss comes back as a tensor, read every N steps.
 */

import {
  add,
  type Backend,
  type DType,
  mul,
  randomHorizontalFlip,
  Rng,
  type RngState,
  type Tensor,
  tensor,
  tidy,
  treeLeaves,
  valueAndGrad,
} from "../compute/mod.ts";
import { type Dataset, shuffledOrder } from "../data/dataset.ts";
import { initNetwork, networkClasses, type NetworkParams } from "../nn/network.ts";
import { initCovarianceHead } from "../nn/covariance_head.ts";
import { lmObjective } from "./objectives/lm.ts";
import type { LmParams, Objective, TrainParams } from "./objectives/objective.ts";
import { NetworkScoreModel } from "../nn/score_network.ts";
import type { Quantization } from "../data/quantization.ts";
import { sdeFromJson } from "../sde/processes.ts";
import type { Sde } from "../sde/sde.ts";
import type { TrainConfig } from "./config.ts";
import { dsmObjective } from "./objectives/dsm.ts";
import { flowObjective } from "./objectives/flow.ts";
import { type AdamState, adamStep, initAdam } from "../compute/optim/adam.ts";
import { clipAndGuard } from "./optim/clip.ts";
import { emaUpdate, initEma } from "./optim/ema.ts";

/** Where the data order stands: the epoch and the position within its permutation. */
export interface DataCursor {
  epoch: number;
  position: number;
}

export type { LmParams, TrainParams };

/** Each objective draws its own times and noise (objectives/objective.ts). */
const OBJECTIVES: Record<TrainConfig["objective"], Objective> = {
  dsm: dsmObjective,
  flow: flowObjective,
  lm: lmObjective,
};

export class Trainer {
  readonly sde: Sde;
  params: TrainParams;
  ema: TrainParams;
  /** Adam over the trainable part: all of `params`, or the head alone with `--freeze-score` */
  adam: AdamState<TrainParams>;
  rng: Rng;
  step = 0;
  cursor: DataCursor = { epoch: 0, position: 0 };
  #order: Int32Array | null = null;

  constructor(
    readonly backend: Backend,
    readonly dtype: DType,
    readonly config: TrainConfig,
    readonly data: Dataset,
    /** how the dataset's integers map to model space; null for continuous data */
    readonly quantization: Quantization | null = null,
  ) {
    this.sde = sdeFromJson(config.sde);
    this.rng = Rng.fromSeed(config.seed);
    const score = initNetwork(backend, this.rng.derive("init"), config.model, dtype);
    this.params = config.lm
      ? { score, head: initCovarianceHead(backend, this.rng.derive("head"), config.lm.head, dtype) }
      : score;
    this.ema = initEma(this.params);
    this.adam = initAdam(this.trainable());
  }

  /** The tree the optimiser updates. */
  trainable(): TrainParams {
    const lm = this.config.lm;
    return lm?.freezeScore ? { head: (this.params as LmParams).head } as TrainParams : this.params;
  }

  /** The network as a model; `ema` picks the averaged weights (the default for evaluation). */
  model(ema = true): NetworkScoreModel {
    const p = ema ? this.ema : this.params, lm = this.config.lm;
    if (!lm) {
      return new NetworkScoreModel(
        this.sde,
        this.config.model,
        this.config.param,
        p as NetworkParams,
      );
    }
    const { score, head } = p as LmParams;
    return new NetworkScoreModel(this.sde, this.config.model, this.config.param, score, undefined, {
      config: lm.head,
      rank: lm.rank,
      params: head,
    });
  }

  /** Restores counters after `--resume` (weights and moments are assigned by the caller). */
  restore(step: number, rng: RngState, cursor: DataCursor): void {
    this.step = step;
    this.rng = new Rng(rng);
    this.cursor = cursor;
    this.adam.step = step;
    this.#order = null;
  }

  #nextIndices(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      if (this.cursor.position >= this.data.n) {
        this.cursor = { epoch: this.cursor.epoch + 1, position: 0 }, this.#order = null;
      }
      this.#order ??= shuffledOrder(this.data.n, this.rng, this.cursor.epoch);
      out[i] = this.#order[this.cursor.position++];
    }
    return out;
  }

  /** The learning rate at the current step: linear warm-up, then constant. */
  learningRate(): number {
    const { warmup, adam } = this.config;
    return warmup > 0 ? adam.lr * Math.min(1, (this.step + 1) / warmup) : adam.lr;
  }

  /** One optimiser step; returns the batch-mean loss, detached and not yet read. */
  trainStep(): Tensor {
    const c = this.config, B = c.batch;
    const stream = this.rng.derive("step").derive(this.step);
    const indices = this.#nextIndices(B);
    const rows = this.data.batch(indices);
    const lr = this.learningRate();
    const loss = tidy(() => {
      const x0 = this.#toModelSpace(
        tensor(this.backend, rows, [B, ...this.data.shape], this.dtype),
        stream,
      );
      // one dropout mask per step: every network call of the step (a divergence's too) sees it
      const dropoutRng = stream.derive("dropout");
      const labels = this.#labels(indices, stream);
      const model = this.model(false);
      const objective = OBJECTIVES[c.objective]({
        x0,
        stream,
        sde: this.sde,
        config: c,
        net: (p) => (x, t) => model.predict(x, t, p, { dropoutRng, labels }),
        params: this.params,
      });
      const trainable = this.trainable();
      const { value, grad } = valueAndGrad(objective)(trainable);
      const guarded = clipAndGuard(grad, value, c.clip);
      adamStep(trainable, guarded.grads, this.adam, c.adam, lr, guarded.ok);
      emaUpdate(this.ema, this.params, c.ema);
      return value;
    });
    this.step++;
    return loss;
  }

  /**
   * The batch's one-hot labels [B, classes] for a class-conditional network, each row zeroed
   * ("no label") with probability `labelDropout` (one uniform per example from the step's
   * stream); undefined for an unconditional one.
   */
  #labels(indices: Int32Array, stream: Rng): Tensor | undefined {
    const classes = networkClasses(this.config.model);
    if (classes === undefined) return undefined;
    if (!this.data.labels) {
      throw new Error(`${this.data.description}: a class-conditional network needs labelled data`);
    }
    const labels = this.data.labels(indices), B = indices.length;
    const drop = stream.derive("label-dropout").uniformHost(B), p = this.config.labelDropout ?? 0;
    const onehot = new Float64Array(B * classes);
    labels.forEach((c, i) => drop[i] >= p && (onehot[i * classes + c] = 1));
    return tensor(this.backend, onehot, [B, classes], this.dtype);
  }

  /** Frees the weights, their average and Adam's moments: the device memory the run holds. */
  dispose(): void {
    const { params, ema, adam } = this;
    for (const tree of [params, ema, adam.m, adam.v]) treeLeaves(tree).forEach((t) => t.dispose());
  }

  /**
   * Integer data to model space, y = a·v + b (docs/MATH.md §2): v = k + u with u ~ U[0, 1) under
   * uniform dequantisation, else the bin centre k + ½; then optional horizontal flips.
   */
  #toModelSpace(k: Tensor, stream: Rng): Tensor {
    const q = this.quantization;
    if (!q) return k;
    const v = this.config.dequant === "uniform"
      ? add(k, stream.derive("dequant").uniform(this.backend, k.shape, this.dtype))
      : add(k, 0.5);
    const y = add(mul(v, q.a), q.b);
    return this.config.flip ? randomHorizontalFlip(y, stream.derive("flip")) : y;
  }
}
