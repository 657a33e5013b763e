/**
 * A trained network seen through the model interface: its native prediction (ε, x0, score or
 * velocity) converted to the score of its process (docs/MATH.md §1).
 */

import { type Tensor, tensor } from "../compute/mod.ts";
import { UsageError } from "../io/errors.ts";
import type { DiffusionModel, Parameterization } from "../sde/model.ts";
import { scoreFromPrediction } from "../sde/parameterization.ts";
import type { Sde } from "../sde/sde.ts";
import type { LowRank } from "../sde/lm/transition.ts";
import { covarianceHead } from "./covariance_head.ts";
import {
  describeNetwork,
  type ForwardOptions,
  networkClasses,
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
  readonly classes?: number;

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
    this.classes = networkClasses(config);
    if (this.classes === undefined) this.withLabel = undefined;
  }

  /** The model with every example's label fixed (null: no label); see `DiffusionModel`. */
  withLabel?: (label: number | null) => DiffusionModel = (label) => {
    const classes = this.classes!;
    if (label !== null && !(Number.isInteger(label) && label >= 0 && label < classes)) {
      throw new UsageError(`class ${label}: this model knows classes 0…${classes - 1}`);
    }
    return {
      sde: this.sde,
      shape: this.shape,
      description: `${this.description}, ${label === null ? "no label" : `class ${label}`}`,
      score: (x, t) => {
        const labels = oneHot(x, classes, label);
        return scoreFromPrediction(
          this.param,
          this.predict(x, t, this.params, { labels }),
          x,
          this.sde.alphaSigmaT(t),
        );
      },
    };
  };

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

/** [B, classes] one-hot rows for `label` (all zero for null), on x's backend and dtype. */
function oneHot(x: Tensor, classes: number, label: number | null): Tensor {
  const rows = x.shape[0], data = new Float32Array(rows * classes);
  if (label !== null) { for (let i = 0; i < rows; i++) data[i * classes + label] = 1; }
  return tensor(x.backend, data, [rows, classes], x.dtype);
}
