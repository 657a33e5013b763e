/**
 * A trained network seen through the model interface: its native prediction (ε, x0, score or
 * velocity) converted to the score of its process (docs/MATH.md §1).
 */

import type { Tensor } from "../compute/mod.ts";
import type { DiffusionModel, Parameterization } from "../sde/model.ts";
import { scoreFromPrediction } from "../sde/parameterization.ts";
import type { Sde } from "../sde/sde.ts";
import type { LowRank } from "../sde/lm/transition.ts";
import { covarianceHead } from "./covariance_head.ts";
import {
  describeNetwork,
  type ForwardOptions,
  type NetworkConfig,
  networkForward,
  type NetworkParams,
  networkShape,
} from "./network.ts";

/** Likelihood Matching's covariance head beside the score network. */
export interface CovarianceHeadModel {
  config: NetworkConfig;
  rank: number;
  params: NetworkParams;
}

export class NetworkScoreModel implements DiffusionModel {
  readonly shape: readonly number[];
  readonly description: string;

  constructor(
    readonly sde: Sde,
    readonly config: NetworkConfig,
    readonly param: Parameterization,
    readonly params: NetworkParams,
    name?: string,
    readonly head?: CovarianceHeadModel,
  ) {
    this.shape = networkShape(config);
    this.description = `${name ? `${name}: ` : ""}${
      describeNetwork(config)
    }, ${param}-prediction, ${sde.kind}${head ? `, rank-${head.rank} covariance head` : ""}`;
    if (!head) this.denoisingCov = undefined;
  }

  /** C(x_t, t) ≈ Cov[x_0 | x_t] from the covariance head (Likelihood Matching), when there is one. */
  denoisingCov?: (x: Tensor, t: Tensor) => LowRank = (x, t) =>
    covarianceHead(this.head!.params, this.head!.config, this.head!.rank, this.sde, x, t);

  /** The network's native output. */
  predict(
    x: Tensor,
    t: Tensor,
    params: NetworkParams = this.params,
    o: ForwardOptions = {},
  ): Tensor {
    return networkForward(params, this.config, x, t, o);
  }

  score(x: Tensor, t: Tensor): Tensor {
    return scoreFromPrediction(this.param, this.predict(x, t), x, this.sde.alphaSigmaT(t));
  }
}
