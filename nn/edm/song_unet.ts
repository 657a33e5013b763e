/**
 * EDM's `SongUNet`: score_sde's DDPM++ and NCSN++ as EDM re-implements them, evaluated from
 * the state dict under its own names (`model.enc.16x16_block0.conv0.weight`). The module lists
 * `enc` and `dec` are rebuilt as plans, in the original's order and with its names, and both
 * the parameter shapes and the forward pass walk those plans:
 *
 * - mapping: noise features (+ the class embedding of labels·√label_dim) → SiLU(layer0) →
 *   SiLU(layer1); augmentation labels are never given, so `map_augment` is stored but unused;
 * - encoder: a 3×3 stem, per level a downsampling block (levels > 0) and `numBlocks` blocks;
 *   `skip` adds a 1×1 projection of the box-downsampled input image at each level, `residual`
 *   a fused 3×3 downsampling convolution of the running auxiliary image, averaged in by 1/√2;
 * - decoder: two blocks at the bottom (the first with attention) or an upsampling block, then
 *   `numBlocks + 1` blocks, each concatenating a skip when its input width asks for it; the
 *   output (`standard`: level 0 only; `skip`: every level, upsampled and summed) is
 *   GroupNorm → SiLU → 3×3 convolution.
 */

import { add, concat, mul, silu, type Tensor } from "../../compute/mod.ts";
import type { EdmConfig, SongUnetConfig } from "./config.ts";
import { convShapes, type ConvSpec, convSpec, edmConv } from "./conv.ts";
import {
  edmGroupNorm,
  type EdmParams,
  type EdmShapes,
  groupNormShapes,
  linear,
  linearShapes,
} from "./layers.ts";
import { blockShapes, type BlockSpec, unetBlock } from "./unet_block.ts";

type Entry =
  | { kind: "block"; name: string; block: BlockSpec }
  | {
    kind: "conv" | "aux_down" | "aux_skip" | "aux_residual" | "aux_up" | "aux_conv";
    name: string;
    conv: ConvSpec;
  }
  | { kind: "aux_norm"; name: string; channels: number };

const EPS = 1e-6;

/** The `enc` and `dec` module lists of the original, in order. */
function plan(c: EdmConfig, u: SongUnetConfig): { enc: Entry[]; dec: Entry[] } {
  const embC = u.modelChannels * u.channelMultEmb, f = u.resampleFilter;
  const block = (inC: number, outC: number, o: Partial<BlockSpec> = {}): BlockSpec => ({
    inC,
    outC,
    embC,
    up: false,
    down: false,
    heads: 0,
    skipScale: Math.SQRT1_2,
    eps: EPS,
    filter: f,
    resampleProj: true,
    adaptiveScale: false,
    ...o,
  });
  const enc: Entry[] = [], dec: Entry[] = [];
  const skips: number[] = [];
  let cout = c.channels, caux = c.channels;
  u.channelMult.forEach((mult, level) => {
    const res = c.resolution >> level, at = `${res}x${res}`;
    if (level === 0) {
      enc.push({ kind: "conv", name: `${at}_conv`, conv: convSpec(cout, u.modelChannels, 3) });
      cout = u.modelChannels;
      skips.push(cout);
    } else {
      enc.push({ kind: "block", name: `${at}_down`, block: block(cout, cout, { down: true }) });
      skips.push(cout);
      if (u.encoderType === "skip") {
        const down = convSpec(caux, caux, 0, { down: true, filter: f });
        enc.push({ kind: "aux_down", name: `${at}_aux_down`, conv: down });
        enc.push({ kind: "aux_skip", name: `${at}_aux_skip`, conv: convSpec(caux, cout, 1) });
      }
      if (u.encoderType === "residual") {
        const conv = convSpec(caux, cout, 3, { down: true, filter: f, fused: true });
        enc.push({ kind: "aux_residual", name: `${at}_aux_residual`, conv });
        caux = cout;
      }
    }
    for (let i = 0; i < u.numBlocks; i++) {
      const heads = u.attnResolutions.includes(res) ? 1 : 0;
      enc.push({
        kind: "block",
        name: `${at}_block${i}`,
        block: block(cout, u.modelChannels * mult, { heads }),
      });
      cout = u.modelChannels * mult;
      skips.push(cout);
    }
  });
  const levels = u.channelMult.length;
  for (let level = levels - 1; level >= 0; level--) {
    const mult = u.channelMult[level], res = c.resolution >> level, at = `${res}x${res}`;
    if (level === levels - 1) {
      dec.push({ kind: "block", name: `${at}_in0`, block: block(cout, cout, { heads: 1 }) });
      dec.push({ kind: "block", name: `${at}_in1`, block: block(cout, cout) });
    } else dec.push({ kind: "block", name: `${at}_up`, block: block(cout, cout, { up: true }) });
    for (let i = 0; i <= u.numBlocks; i++) {
      const cin = cout + skips.pop()!;
      cout = u.modelChannels * mult;
      const heads = i === u.numBlocks && u.attnResolutions.includes(res) ? 1 : 0;
      dec.push({ kind: "block", name: `${at}_block${i}`, block: block(cin, cout, { heads }) });
    }
    if (u.decoderType === "skip" || level === 0) {
      if (u.decoderType === "skip" && level < levels - 1) {
        const up = convSpec(c.channels, c.channels, 0, { up: true, filter: f });
        dec.push({ kind: "aux_up", name: `${at}_aux_up`, conv: up });
      }
      dec.push({ kind: "aux_norm", name: `${at}_aux_norm`, channels: cout });
      dec.push({ kind: "aux_conv", name: `${at}_aux_conv`, conv: convSpec(cout, c.channels, 3) });
    }
  }
  return { enc, dec };
}

function entryShapes(s: EdmShapes, name: string, e: Entry) {
  if (e.kind === "block") blockShapes(s, name, e.block);
  else if (e.kind === "aux_norm") groupNormShapes(s, name, e.channels);
  else convShapes(s, name, e.conv);
}

export function songUnetShapes(s: EdmShapes, c: EdmConfig, u: SongUnetConfig) {
  const noiseC = u.modelChannels * u.channelMultNoise, embC = u.modelChannels * u.channelMultEmb;
  const classes = c.classes ?? 0;
  if (classes) linearShapes(s, "model.map_label", classes, noiseC);
  if (u.augmentDim) linearShapes(s, "model.map_augment", u.augmentDim, noiseC, false);
  linearShapes(s, "model.map_layer0", noiseC, embC);
  linearShapes(s, "model.map_layer1", embC, embC);
  const { enc, dec } = plan(c, u);
  for (const e of enc) entryShapes(s, `model.enc.${e.name}`, e);
  for (const e of dec) entryShapes(s, `model.dec.${e.name}`, e);
}

/**
 * The network's output F for its input x [N, C, H, W] (already scaled by c_in), the noise
 * features [N, noise channels] and one-hot labels [N, classes] (null: unconditional).
 */
export function songUnetForward(
  p: EdmParams,
  c: EdmConfig,
  u: SongUnetConfig,
  x: Tensor,
  noise: Tensor,
  labels: Tensor | null,
): Tensor {
  let emb = noise;
  if (labels) emb = add(emb, linear(p, "model.map_label", mul(labels, Math.sqrt(labels.shape[1]))));
  emb = silu(linear(p, "model.map_layer0", emb));
  emb = silu(linear(p, "model.map_layer1", emb));
  const { enc, dec } = plan(c, u);
  const skips: Tensor[] = [];
  let aux: Tensor | null = x, h = x;
  for (const e of enc) {
    const k = `model.enc.${e.name}`;
    if (e.kind === "aux_down") aux = edmConv(p, k, e.conv, aux!);
    else if (e.kind === "aux_skip") {
      h = skips[skips.length - 1] = add(h, edmConv(p, k, e.conv, aux!));
    } else if (e.kind === "aux_residual") {
      h = skips[skips.length - 1] = aux = mul(add(h, edmConv(p, k, e.conv, aux!)), Math.SQRT1_2);
    } else {
      h = e.kind === "block"
        ? unetBlock(p, k, e.block, h, emb)
        : edmConv(p, k, (e as { conv: ConvSpec }).conv, h);
      skips.push(h);
    }
  }
  aux = null;
  let tmp: Tensor | null = null;
  for (const e of dec) {
    const k = `model.dec.${e.name}`;
    if (e.kind === "aux_up") aux = edmConv(p, k, e.conv, aux!);
    else if (e.kind === "aux_norm") tmp = edmGroupNorm(p, k, h, EPS);
    else if (e.kind === "aux_conv") {
      tmp = edmConv(p, k, e.conv, silu(tmp!));
      aux = aux ? add(tmp, aux) : tmp;
    } else if (e.kind === "block") {
      if (h.shape[1] !== e.block.inC) h = concat([h, skips.pop()!], 1);
      h = unetBlock(p, k, e.block, h, emb);
    }
  }
  return aux!;
}
