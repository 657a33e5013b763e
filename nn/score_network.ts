/**
 * A trained network seen through the model interface: its native prediction (ε, x0, score or
 * velocity) converted to the score of its process (MATH.md §1).
 */

import type { Tensor } from "../compute/mod.ts";
import type { DiffusionModel, Parameterization } from "../sde/model.ts";
import { scoreFromPrediction } from "../sde/parameterization.ts";
import type { Sde } from "../sde/sde.ts";
import {
  describeNetwork,
  type ForwardOptions,
  type NetworkConfig,
  networkForward,
  type NetworkParams,
  networkShape,
} from "./network.ts";

export class NetworkScoreModel implements DiffusionModel {
  readonly shape: readonly number[];
  readonly description: string;

  constructor(
    readonly sde: Sde,
    readonly config: NetworkConfig,
    readonly param: Parameterization,
    readonly params: NetworkParams,
    name?: string,
  ) {
    this.shape = networkShape(config);
    this.description = `${name ? `${name}: ` : ""}${
      describeNetwork(config)
    }, ${param}-prediction, ${sde.kind}`;
  }

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
