/**
 * EDM's `DhariwalUNet`: the ADM architecture (Dhariwal & Nichol 2021) as EDM re-implements it,
 * evaluated from the state dict under its own names (`model.enc.32x32_block0.affine.weight`).
 * Blocks use adaptive scale and shift, no skip scaling, ε = 1e-5 and one attention head per 64
 * channels (so a block narrower than 64 channels has no attention even where asked); resampling
 * skips carry no projection. Mapping: positional features [cos, sin] → SiLU(layer0) → layer1,
 * plus the bias-free class embedding of the one-hot labels, then SiLU; augmentation labels are
 * never given, so `map_augment` is stored but unused. Output: GroupNorm → SiLU → 3×3 conv.
 */

import { add, concat, silu, type Tensor } from "../../compute/mod.ts";
import type { DhariwalUnetConfig, EdmConfig } from "./config.ts";
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
  | { kind: "conv"; name: string; conv: ConvSpec }
  | { kind: "block"; name: string; block: BlockSpec };

const EPS = 1e-5;
const CHANNELS_PER_HEAD = 64;

/** The `enc` and `dec` module lists of the original, in order. */
function plan(c: EdmConfig, u: DhariwalUnetConfig): { enc: Entry[]; dec: Entry[] } {
  const embC = u.modelChannels * u.channelMultEmb;
  const block = (inC: number, outC: number, o: Partial<BlockSpec> = {}): BlockSpec => ({
    inC,
    outC,
    embC,
    up: false,
    down: false,
    heads: 0,
    skipScale: 1,
    eps: EPS,
    filter: [1, 1],
    resampleProj: false,
    adaptiveScale: true,
    ...o,
  });
  const headsOf = (attention: boolean, outC: number) =>
    attention ? Math.floor(outC / CHANNELS_PER_HEAD) : 0;
  const enc: Entry[] = [], dec: Entry[] = [];
  let cout = c.channels;
  u.channelMult.forEach((mult, level) => {
    const res = c.resolution >> level, at = `${res}x${res}`;
    if (level === 0) {
      enc.push({
        kind: "conv",
        name: `${at}_conv`,
        conv: convSpec(cout, u.modelChannels * mult, 3),
      });
      cout = u.modelChannels * mult;
    } else {enc.push({
        kind: "block",
        name: `${at}_down`,
        block: block(cout, cout, { down: true }),
      });}
    for (let i = 0; i < u.numBlocks; i++) {
      const outC = u.modelChannels * mult;
      const heads = headsOf(u.attnResolutions.includes(res), outC);
      enc.push({ kind: "block", name: `${at}_block${i}`, block: block(cout, outC, { heads }) });
      cout = outC;
    }
  });
  const skips = enc.map((e) => e.kind === "conv" ? e.conv.outC : e.block.outC);
  const levels = u.channelMult.length;
  for (let level = levels - 1; level >= 0; level--) {
    const mult = u.channelMult[level], res = c.resolution >> level, at = `${res}x${res}`;
    if (level === levels - 1) {
      dec.push({
        kind: "block",
        name: `${at}_in0`,
        block: block(cout, cout, { heads: headsOf(true, cout) }),
      });
      dec.push({ kind: "block", name: `${at}_in1`, block: block(cout, cout) });
    } else dec.push({ kind: "block", name: `${at}_up`, block: block(cout, cout, { up: true }) });
    for (let i = 0; i <= u.numBlocks; i++) {
      const cin = cout + skips.pop()!;
      cout = u.modelChannels * mult;
      const heads = headsOf(u.attnResolutions.includes(res), cout);
      dec.push({ kind: "block", name: `${at}_block${i}`, block: block(cin, cout, { heads }) });
    }
  }
  return { enc, dec };
}

/** The channels of the last decoder block, which the output layers take. */
const outChannels = (u: DhariwalUnetConfig) => u.modelChannels * u.channelMult[0];

export function dhariwalUnetShapes(s: EdmShapes, c: EdmConfig, u: DhariwalUnetConfig) {
  const embC = u.modelChannels * u.channelMultEmb;
  if (u.augmentDim) linearShapes(s, "model.map_augment", u.augmentDim, u.modelChannels, false);
  linearShapes(s, "model.map_layer0", u.modelChannels, embC);
  linearShapes(s, "model.map_layer1", embC, embC);
  if (c.classes) linearShapes(s, "model.map_label", c.classes, embC, false);
  const { enc, dec } = plan(c, u);
  for (const e of enc) {
    if (e.kind === "conv") convShapes(s, `model.enc.${e.name}`, e.conv);
    else blockShapes(s, `model.enc.${e.name}`, e.block);
  }
  for (const e of dec) if (e.kind === "block") blockShapes(s, `model.dec.${e.name}`, e.block);
  groupNormShapes(s, "model.out_norm", outChannels(u));
  convShapes(s, "model.out_conv", convSpec(outChannels(u), c.channels, 3));
}

/** F for x [N, C, H, W] (scaled by c_in), noise features [N, modelChannels], labels or null. */
export function dhariwalUnetForward(
  p: EdmParams,
  c: EdmConfig,
  u: DhariwalUnetConfig,
  x: Tensor,
  noise: Tensor,
  labels: Tensor | null,
): Tensor {
  let emb = linear(p, "model.map_layer1", silu(linear(p, "model.map_layer0", noise)));
  if (labels) emb = add(emb, linear(p, "model.map_label", labels));
  emb = silu(emb);
  const { enc, dec } = plan(c, u);
  const skips: Tensor[] = [];
  let h = x;
  for (const e of enc) {
    const k = `model.enc.${e.name}`;
    h = e.kind === "conv" ? edmConv(p, k, e.conv, h) : unetBlock(p, k, e.block, h, emb);
    skips.push(h);
  }
  for (const e of dec) {
    if (e.kind !== "block") continue;
    if (h.shape[1] !== e.block.inC) h = concat([h, skips.pop()!], 1);
    h = unetBlock(p, `model.dec.${e.name}`, e.block, h, emb);
  }
  h = silu(edmGroupNorm(p, "model.out_norm", h, EPS));
  return edmConv(p, "model.out_conv", convSpec(outChannels(u), c.channels, 3), h);
}
