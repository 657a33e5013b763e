/**
 * `train`'s flags → the run's configuration: the preset's defaults under the flags, every
 * conflict named by its flags. Once the data fix their shape, `fitModelToData` sizes the network
 * to them and names the flag behind a U-Net setting that does not fit.
 */

import { UsageError } from "../io/errors.ts";
import type { NetworkConfig } from "../nn/network.ts";
import { type UnetConfig, UnetConfigError, validateUnetConfig } from "../nn/unet.ts";
import { headNetwork } from "../nn/covariance_head.ts";
import { isImageSpec } from "../data/image_set.ts";
import { makeSde, sdeToJson } from "../sde/processes.ts";
import type { SdeKind } from "../sde/sde.ts";
import { ADAM_DEFAULT } from "../compute/optim/adam.ts";
import type { Objective, TrainConfig, TrainDequantization } from "../train/config.ts";
import { PRESETS } from "../train/presets.ts";
import type { Weighting } from "../train/objectives/dsm.ts";
import type { TimeSampling } from "../train/time_sampling.ts";

/** The network's flags; a flag of the other kind of network is a conflict. */
export interface NetworkFlags {
  model?: "mlp" | "unet";
  hidden?: number;
  layers?: number;
  base?: number;
  mults?: number[];
  resBlocks?: number;
  attn?: number[];
  groups?: number;
  dropout?: number;
}

/** The flags the configuration comes from (the run's own, --steps, --out…, are elsewhere). */
export interface TrainFlags extends NetworkFlags {
  preset: string;
  data?: string;
  nTrain?: number;
  dequant?: TrainDequantization;
  flip?: boolean;
  objective?: Objective;
  weighting?: Weighting;
  timeSampling?: TimeSampling;
  param?: "eps" | "score" | "x0";
  sde?: SdeKind;
  rank?: number;
  timePoints?: number;
  freezeScore?: boolean;
  highOrder: number;
  labelDropout?: number;
  batch?: number;
  lr?: number;
  weightDecay: number;
  warmup?: number;
  clip: number;
  ema?: number;
  seed: number;
  resume?: boolean;
  force?: boolean;
  init?: string;
}

/** The configuration the flags describe; every conflict is a UsageError naming its flags. */
export function trainConfig(f: TrainFlags): TrainConfig {
  const preset = PRESETS[f.preset];
  const objective = f.objective ?? preset.objective;
  checkLmFlags(f, objective);
  if (f.resume && f.init) {
    throw new UsageError(
      "--resume and --init conflict: resume continues a run, init starts a new one",
    );
  }
  if (f.resume && f.force) {
    throw new UsageError(
      "--resume and --force conflict: resume continues the run in --out, force replaces it",
    );
  }
  const sdeKind = f.sde ?? (objective === "flow" ? "vdm" : "vp");
  if (objective === "flow" && sdeKind !== "vdm" && sdeKind !== "sp") {
    throw new UsageError(
      `--objective flow uses i-DODE's linear-γ processes (vdm or sp); --sde ${sdeKind} conflicts`,
    );
  }
  if (objective === "lm" && (f.weighting || f.timeSampling)) {
    throw new UsageError(
      "--weighting and --time-sampling are DSM settings; lm draws its own time points (--time-points)",
    );
  }
  if (objective === "flow" && (f.weighting || f.timeSampling || f.param)) {
    throw new UsageError(
      "--weighting, --time-sampling and --param are DSM settings; flow predicts the velocity",
    );
  }
  if (objective === "dsm" && f.highOrder > 0) {
    throw new UsageError("--high-order is the flow objective's fine-tune term");
  }
  if (sdeKind === "sp" && f.highOrder > 0) {
    throw new UsageError(
      "--high-order is derived for the VDM-γ process; on --sde sp only the first-order flow loss is available",
    );
  }
  const weighting = f.weighting ?? (objective === "dsm" ? preset.weighting : "simple");
  const timeSampling = f.timeSampling ??
    (weighting === "likelihood" ? preset.timeSampling : "uniform");
  if (weighting === "simple" && timeSampling === "importance") {
    throw new UsageError(
      "--time-sampling importance is ScoreFlow's sampler for likelihood weighting; --weighting simple conflicts",
    );
  }
  const sde = makeSde(sdeKind);
  return {
    data: f.data ?? preset.data,
    nTrain: f.nTrain ?? preset.nTrain,
    model: modelConfig(f, preset.model, isImageSpec(f.data ?? preset.data)),
    objective,
    weighting,
    timeSampling,
    param: objective === "flow" ? "velocity" : f.param ?? "eps",
    sde: sdeToJson(sde),
    tMin: sde.tMinLikelihood,
    highOrder: f.highOrder,
    batch: f.batch ?? preset.batch,
    adam: { ...ADAM_DEFAULT, lr: f.lr ?? preset.lr, weightDecay: f.weightDecay },
    warmup: f.warmup ?? preset.warmup,
    clip: f.clip,
    ema: f.ema ?? preset.ema,
    seed: f.seed,
    initFrom: null,
    dequant: f.dequant ?? preset.dequant,
    flip: f.flip ?? preset.flip,
    // the head's network is sized from the score network's once the data fix its shape
    lm: objective === "lm"
      ? {
        rank: f.rank ?? 1,
        timePoints: f.timePoints ?? 4,
        freezeScore: f.freezeScore === true,
        head: { kind: "mlp", dim: 0, hidden: 0, layers: 0, timeFeatures: 0 },
      }
      : null,
    // the classes come from the data (fitClassesToData)
    ...(f.labelDropout ? { labelDropout: f.labelDropout } : {}),
  };
}

function checkLmFlags(
  f: { rank?: number; timePoints?: number; freezeScore?: boolean; init?: string },
  objective: Objective,
): void {
  const lmOnly = [["--rank", f.rank], ["--time-points", f.timePoints], [
    "--freeze-score",
    f.freezeScore,
  ]] as const;
  const stray = lmOnly.find(([, v]) => v !== undefined);
  if (objective !== "lm" && stray) {
    throw new UsageError(`${stray[0]} is a setting of --objective lm (Likelihood Matching)`);
  }
  if (f.freezeScore && !f.init) {
    throw new UsageError(
      "--freeze-score trains the head on a fixed score network: give it with --init CKPT",
    );
  }
}

/**
 * The network from the preset's and the flags (a U-Net for images unless --model says
 * otherwise); a flag of the other kind of network is a conflict. The MLP's width and the U-Net's
 * channels and resolution come from the data later.
 */
function modelConfig(f: NetworkFlags, base: NetworkConfig, images: boolean): NetworkConfig {
  const kind = f.model ?? (images ? "unet" : base.kind);
  const mlpFlags = [["--hidden", f.hidden], ["--layers", f.layers]] as const;
  const unetFlags = [
    ["--base", f.base],
    ["--mults", f.mults],
    ["--res-blocks", f.resBlocks],
    ["--attn", f.attn],
    ["--groups", f.groups],
    ["--dropout", f.dropout],
  ] as const;
  const foreign = (kind === "mlp" ? unetFlags : mlpFlags).find(([, v]) => v !== undefined);
  if (foreign) throw new UsageError(`${foreign[0]} is not a setting of --model ${kind}`);
  if (kind === "mlp") {
    const b = base.kind === "mlp" ? base : PRESETS.toy.model as NetworkConfig & { kind: "mlp" };
    return { ...b, hidden: f.hidden ?? b.hidden, layers: f.layers ?? b.layers };
  }
  const b = base.kind === "unet" ? base : PRESETS.mnist.model as NetworkConfig & { kind: "unet" };
  return {
    ...b,
    base: f.base ?? b.base,
    mults: f.mults ?? b.mults,
    resBlocks: f.resBlocks ?? b.resBlocks,
    attnResolutions: f.attn ?? b.attnResolutions,
    groups: f.groups ?? b.groups,
    dropout: f.dropout ?? b.dropout,
  };
}

/**
 * Completes the model config from the data: the MLP's input width (it flattens nothing, so it
 * takes points only), the U-Net's channels and resolution checked against the images.
 */
export function fitModelToData(c: TrainConfig, shape: number[]): TrainConfig {
  const m = c.model;
  if (m.kind === "mlp") {
    if (shape.length !== 1) {
      throw new UsageError(
        `--model mlp takes points; ${c.data} holds [${shape.join(", ")}] images (use --model unet)`,
      );
    }
    return withHead({ ...c, model: { ...m, dim: shape[0] } });
  }
  if (shape.length !== 3 || shape[1] !== shape[2]) {
    throw new UsageError(
      `--model unet takes square images [C, H, H]; ${c.data} holds [${shape.join(", ")}]`,
    );
  }
  if (m.kind === "ncsnpp" || m.kind === "edm" || m.kind === "vdm-unet") {
    // an imported network is trained further as it is (train --init)
    if (shape.join() !== [m.channels, m.resolution, m.resolution].join()) {
      throw new UsageError(
        `the network takes [${m.channels}, ${m.resolution}, ${m.resolution}] images; ${c.data} holds [${
          shape.join(", ")
        }]`,
      );
    }
    return c;
  }
  const model = { ...m, channels: shape[0], resolution: shape[1] };
  try {
    validateUnetConfig(model);
  } catch (e) {
    if (!(e instanceof UnetConfigError)) throw e;
    const flag = UNET_FLAGS[e.field] ?? `the data (${c.data})`;
    throw new UsageError(`--model unet: ${flag}: ${e.message}`);
  }
  return withHead({ ...c, model });
}

/**
 * `--label-dropout P` > 0: the network becomes class-conditional with the data's classes;
 * data without labels are a usage error.
 */
export function fitClassesToData(c: TrainConfig, classes: number | undefined): TrainConfig {
  if (!c.labelDropout) return c;
  if (classes === undefined) {
    throw new UsageError(
      `--label-dropout needs labelled data (mnist, fashion-mnist, cifar10:DIR, imagenet32:DIR or a gmm: file with "classes"); ${c.data} has no labels`,
    );
  }
  const m = c.model;
  if (m.kind !== "mlp" && m.kind !== "unet") {
    throw new UsageError(`--label-dropout: the ${m.kind} network has no class embedding to train`);
  }
  return { ...c, model: { ...m, classes } };
}

/** Likelihood Matching's head, sized from the finished score network. */
function withHead(c: TrainConfig): TrainConfig {
  return c.lm ? { ...c, lm: { ...c.lm, head: headNetwork(c.model, c.lm.rank) } } : c;
}

/** The flag behind each U-Net field; the others (channels, time features) come from elsewhere. */
const UNET_FLAGS: Partial<Record<keyof UnetConfig, string>> = {
  base: "--base",
  mults: "--mults",
  // the data fix the resolution: it is the levels of --mults that do not fit it
  resolution: "--mults",
  resBlocks: "--res-blocks",
  attnResolutions: "--attn",
  groups: "--groups",
  dropout: "--dropout",
};
