/**
 * The U-Net's configuration: its hyperparameters, their validation, the architecture as data
 * (every block's channels, skip concatenations included) and the parameter count derived from
 * it. `nn/unet.ts` builds and runs the network from the same plan.
 */

import { attentionBlockParamCount } from "./attention_block.ts";
import { conv2dParamCount } from "./conv2d.ts";
import { groupNormParamCount } from "./group_norm.ts";
import { resBlockParamCount, type ResBlockShape } from "./res_block.ts";

/** The architecture's hyperparameters (score_sde's `config.model` fields of the same role). */
export interface UnetConfig {
  /** Image channels C, of the input and of the output. */
  channels: number;
  /** H = W. */
  resolution: number;
  /** Base width (128 for CIFAR-10 DDPM++). */
  base: number;
  /** Width multipliers per level, e.g. [1, 2, 2, 2]. */
  mults: number[];
  /** Residual blocks per level on the down path (the up path has one more). */
  resBlocks: number;
  /** Resolutions with self-attention, e.g. [16]. */
  attnResolutions: number[];
  /** Dropout rate inside residual blocks (0.1 for CIFAR-10). */
  dropout: number;
  /** GroupNorm groups; must divide every width. */
  groups: number;
  /** Sinusoidal features of t (even). */
  timeFeatures: number;
  /** Output channels when they are not `channels` (a covariance head's C·(1 + r)). */
  outChannels?: number;
  /**
   * Classes of a class-conditional network (absent or 0: unconditional): a learned embedding
   * of the one-hot label, [classes, 4·base] without bias, added to the time embedding.
   */
  classes?: number;
}

export interface LevelPlan {
  resolution: number;
  width: number;
  attention: boolean;
  down: ResBlockShape[];
  up: ResBlockShape[];
}

/** The architecture as data: every block's channels, including the skip concatenations. */
export function plan(c: UnetConfig): { tembDim: number; levels: LevelPlan[]; outWidth: number } {
  validateUnetConfig(c);
  const tembDim = 4 * c.base, last = c.mults.length - 1;
  const stored = [c.base]; // channels of each activation the up path will concatenate
  let ch = c.base;
  const levels = c.mults.map((m, i): LevelPlan => {
    const width = c.base * m, down: ResBlockShape[] = [];
    for (let j = 0; j < c.resBlocks; j++) {
      down.push({ inC: ch, outC: width, tembDim });
      stored.push(ch = width);
    }
    if (i < last) stored.push(ch);
    const resolution = c.resolution / 2 ** i;
    return { resolution, width, attention: c.attnResolutions.includes(resolution), down, up: [] };
  });
  for (let i = last; i >= 0; i--) {
    for (let j = 0; j <= c.resBlocks; j++) {
      levels[i].up.push({ inC: ch + stored.pop()!, outC: levels[i].width, tembDim });
      ch = levels[i].width;
    }
  }
  return { tembDim, levels, outWidth: ch };
}

/** The number of parameters, summed over the same plan `initUnet` builds from. */
export function unetParamCount(c: UnetConfig): number {
  const { tembDim, levels, outWidth } = plan(c);
  const last = levels.length - 1, mid = levels[last].width;
  const dense = (i: number, o: number) => i * o + o;
  let n = dense(c.timeFeatures, tembDim) + dense(tembDim, tembDim) +
    conv2dParamCount(c.channels, c.base, 3);
  levels.forEach((l, i) => {
    const resample = conv2dParamCount(l.width, l.width, 3);
    for (const s of l.down) {
      n += resBlockParamCount(s) + (l.attention ? attentionBlockParamCount(l.width) : 0);
    }
    for (const s of l.up) n += resBlockParamCount(s);
    if (l.attention) n += attentionBlockParamCount(l.width);
    n += (i < last ? resample : 0) + (i > 0 ? resample : 0);
  });
  n += 2 * resBlockParamCount({ inC: mid, outC: mid, tembDim }) + attentionBlockParamCount(mid);
  return n + groupNormParamCount(outWidth) +
    conv2dParamCount(outWidth, c.outChannels ?? c.channels, 3) + (c.classes ?? 0) * tembDim;
}

/** A config that does not describe a buildable network; `field` is the one at fault. */
export class UnetConfigError extends RangeError {
  override name = "UnetConfigError";
  constructor(readonly field: keyof UnetConfig, why: string) {
    super(`UnetConfig.${field}: ${why}`);
  }
}

/** Throws a UnetConfigError naming the field when `c` does not describe a buildable network. */
export function validateUnetConfig(c: UnetConfig): void {
  const fail = (field: keyof UnetConfig, why: string) => {
    throw new UnetConfigError(field, why);
  };
  for (
    const f of ["channels", "resolution", "base", "resBlocks", "groups", "timeFeatures"] as const
  ) {
    if (!Number.isInteger(c[f]) || c[f] < 1) fail(f, `must be a positive integer, got ${c[f]}`);
  }
  if (c.timeFeatures % 2 !== 0) fail("timeFeatures", `must be even, got ${c.timeFeatures}`);
  if (c.mults.length === 0 || c.mults.some((m) => !Number.isInteger(m) || m < 1)) {
    fail("mults", `must be a non-empty list of positive integers, got [${c.mults}]`);
  }
  const factor = 2 ** (c.mults.length - 1);
  if (c.resolution % factor !== 0) {
    fail("resolution", `${c.resolution} is not divisible by 2^(levels − 1) = ${factor}`);
  }
  for (const w of [c.base, ...c.mults.map((m) => c.base * m)]) {
    if (w % c.groups !== 0) fail("groups", `${c.groups} does not divide the width ${w}`);
  }
  const resolutions = c.mults.map((_, i) => c.resolution / 2 ** i);
  for (const r of c.attnResolutions) {
    if (!resolutions.includes(r)) {
      fail("attnResolutions", `${r} is not a level resolution (${resolutions})`);
    }
  }
  if (!(c.dropout >= 0 && c.dropout < 1)) fail("dropout", `must be in [0, 1), got ${c.dropout}`);
  if (c.classes !== undefined && !(Number.isInteger(c.classes) && c.classes >= 0)) {
    fail("classes", `must be an integer ≥ 0, got ${c.classes}`);
  }
}
