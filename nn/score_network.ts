/**
 * A trained network seen through the model interface: the MLP's native prediction (ε, x0,
 * score or velocity) converted to the score of its process (MATH.md §1).
 */

import type { Tensor } from "../compute/mod.ts";
import type { DiffusionModel, Parameterization } from "../sde/model.ts";
import { scoreFromPrediction } from "../sde/parameterization.ts";
import type { Sde } from "../sde/sde.ts";
import { type MlpConfig, mlpForward, type MlpParams } from "./mlp.ts";

export class MlpScoreModel implements DiffusionModel {
  readonly shape: readonly number[];
  readonly description: string;

  constructor(
    readonly sde: Sde,
    readonly config: MlpConfig,
    readonly param: Parameterization,
    readonly params: MlpParams,
    name = "mlp",
  ) {
    this.shape = [config.dim];
    this.description =
      `${name} (${config.layers}×${config.hidden} SiLU, ${param}-prediction, ${sde.kind})`;
  }

  /** The network's native output. */
  predict(x: Tensor, t: Tensor, params: MlpParams = this.params): Tensor {
    return mlpForward(params, this.config, x, t);
  }

  score(x: Tensor, t: Tensor): Tensor {
    return scoreFromPrediction(this.param, this.predict(x, t), x, this.sde.alphaSigmaT(t));
  }
}
