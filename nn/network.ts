/**
 * The score networks a run can train, behind one config union: the MLP for points and the
 * U-Net for images. Checkpoints store the config; `initNetwork` rebuilds the parameter tree
 * from it (names and shapes), `networkForward` evaluates it.
 */

import {
  type Backend,
  type DType,
  type Rng,
  type Tensor,
  type Tree,
  treeLeaves,
} from "../compute/mod.ts";
import { initMlp, type MlpConfig, mlpForward, type MlpParams } from "./mlp.ts";
import { initUnet, type UnetConfig, unetForward, type UnetParams } from "./unet.ts";
import { initNcsnpp, type NcsnppConfig, ncsnppForward, type NcsnppParams } from "./ncsnpp.ts";

/** `ncsnpp`: score_sde's network, as imported from its checkpoints (nn/ncsnpp.ts). */
export type NetworkConfig =
  | ({ kind: "mlp" } & MlpConfig)
  | ({ kind: "unet" } & UnetConfig)
  | ({ kind: "ncsnpp" } & NcsnppConfig);

export type NetworkParams = MlpParams | UnetParams | NcsnppParams;

/** Per-call options: dropout is active only when a training step passes its rng. */
export interface ForwardOptions {
  dropoutRng?: Rng;
  /**
   * Class labels of a class-conditional network, one-hot [B, classes]; a zero row is "no
   * label" (what label dropout trains). Unconditional networks ignore them.
   */
  labels?: Tensor;
}

/** The number of classes a network is conditioned on; undefined when it is unconditional. */
export function networkClasses(c: NetworkConfig): number | undefined {
  const classes = (c as { classes?: number }).classes;
  return classes !== undefined && classes > 0 ? classes : undefined;
}

export function initNetwork(
  backend: Backend,
  rng: Rng,
  c: NetworkConfig,
  dtype: DType = "f32",
): NetworkParams {
  if (c.kind === "ncsnpp") return initNcsnpp(backend, rng, c, dtype);
  return c.kind === "mlp" ? initMlp(backend, rng, c, dtype) : initUnet(backend, rng, c, dtype);
}

/** x: [B, …shape], t: [B] → the network's native prediction, shaped like x. */
export function networkForward(
  p: NetworkParams,
  c: NetworkConfig,
  x: Tensor,
  t: Tensor,
  o: ForwardOptions = {},
): Tensor {
  if (c.kind === "mlp") return mlpForward(p as MlpParams, c, x, t);
  if (c.kind === "ncsnpp") return ncsnppForward(p as NcsnppParams, c, x, t);
  return unetForward(p as UnetParams, c, x, t, o);
}

/** One line for reports, e.g. "mlp (3×128 SiLU)" or "unet (32·[1,2,2], 1 block/level, attn 7)". */
export function describeNetwork(c: NetworkConfig): string {
  if (c.kind === "mlp") return `mlp (${c.layers}×${c.hidden} SiLU)`;
  if (c.kind === "ncsnpp") {
    return `score_sde ncsnpp (${c.resblockType} blocks, ${c.nf}·[${c.chMult}], ${c.numResBlocks} blocks/level, attention at ${
      c.attnResolutions.join(",") || "none"
    })`;
  }
  return `unet (${c.base}·[${c.mults}], ${c.resBlocks} blocks/level, attention at ${
    c.attnResolutions.length ? c.attnResolutions.join(",") : "none"
  }, dropout ${c.dropout})`;
}

/** The shape of one example the network takes. */
export function networkShape(c: NetworkConfig): number[] {
  return c.kind === "mlp" ? [c.dim] : [c.channels, c.resolution, c.resolution];
}

/** Number of scalars in a parameter tree. */
export function countParams(p: Tree): number {
  return treeLeaves(p).reduce((n, t) => n + t.size, 0);
}
