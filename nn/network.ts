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
import { type EdmConfig, edmForward, type EdmParams, initEdm } from "./edm/edm.ts";
import { describeEdm } from "./edm/config.ts";
import {
  describeVdmUnet,
  initVdmUnet,
  type VdmUnetConfig,
  vdmUnetForward,
  type VdmUnetParams,
} from "./vdm_unet.ts";

/**
 * `ncsnpp`: score_sde's network, as imported from its checkpoints (nn/ncsnpp.ts); `edm`: EDM's
 * preconditioned U-Nets, as imported from its snapshots (nn/edm/).
 */
export type NetworkConfig =
  | ({ kind: "mlp" } & MlpConfig)
  | ({ kind: "unet" } & UnetConfig)
  | ({ kind: "ncsnpp" } & NcsnppConfig)
  | ({ kind: "edm" } & EdmConfig)
  | ({ kind: "vdm-unet" } & VdmUnetConfig);

export type NetworkParams = MlpParams | UnetParams | NcsnppParams | EdmParams | VdmUnetParams;

/** Every network kind a checkpoint may name (the type checks that the list is complete). */
export const NETWORK_KINDS = [
  "mlp",
  "unet",
  "ncsnpp",
  "edm",
  "vdm-unet",
] as const satisfies readonly NetworkConfig["kind"][];
type MissingKind = Exclude<NetworkConfig["kind"], (typeof NETWORK_KINDS)[number]>;
const _allKindsListed: MissingKind extends never ? true : never = true;

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
  if (c.kind === "edm") return initEdm(backend, rng, c, dtype);
  if (c.kind === "vdm-unet") return initVdmUnet(backend, rng, c, dtype);
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
  if (c.kind === "mlp") return mlpForward(p as MlpParams, c, x, t, o);
  if (c.kind === "ncsnpp") return ncsnppForward(p as NcsnppParams, c, x, t);
  if (c.kind === "edm") return edmForward(p as EdmParams, c, x, t, o.labels);
  if (c.kind === "vdm-unet") return vdmUnetForward(p as VdmUnetParams, c, x, t);
  return unetForward(p as UnetParams, c, x, t, o);
}

/** One line for reports, e.g. "mlp (3×128 SiLU)" or "unet (32·[1,2,2], 1 block/level, attn 7)". */
export function describeNetwork(c: NetworkConfig): string {
  if (c.kind === "mlp") return `mlp (${c.layers}×${c.hidden} SiLU)`;
  if (c.kind === "edm") return describeEdm(c);
  if (c.kind === "vdm-unet") return describeVdmUnet(c);
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
