/**
 * What every training objective is to the trainer: given one step's clean batch and random
 * stream, it draws its own times and noise and returns the batch-mean loss as a function of
 * the trainable parameters, which the trainer differentiates. The trainer never branches on
 * the objective; it looks it up in OBJECTIVES (trainer.ts).
 */

import type { Rng, Tensor } from "../../compute/mod.ts";
import type { NetworkParams } from "../../nn/network.ts";
import type { Sde } from "../../sde/sde.ts";
import type { TrainConfig } from "../config.ts";
import type { Network } from "./dsm.ts";

/** Likelihood Matching trains two networks: the score and the covariance head. */
export interface LmParams {
  [k: string]: NetworkParams;
  score: NetworkParams;
  head: NetworkParams;
}

export type TrainParams = NetworkParams | LmParams;

export interface StepInputs {
  /** the batch in model space, [B, …] */
  x0: Tensor;
  /** this step's stream: objectives derive "time", "noise", "probe" from it */
  stream: Rng;
  sde: Sde;
  config: TrainConfig;
  /** the network's native prediction under parameters p (the step's dropout mask fixed) */
  net: (p: NetworkParams) => Network;
  /** the weights before this step (a frozen score network is read from them) */
  params: TrainParams;
}

/** Draws the step's times and noise; returns p ↦ batch-mean loss. */
export type Objective = (s: StepInputs) => (p: TrainParams) => Tensor;
