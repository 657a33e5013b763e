/**
 * An EDM network as this toolkit runs it: the U-Net (`SongUNet` or `DhariwalUNet`) inside its
 * preconditioning, evaluated at process times t as the denoiser D(x; σ(t)), an x0-prediction
 * of the VE process σ(t) = σ_min (σ_max/σ_min)^t (docs/import_edm.md). Parameters keep the
 * names of the original precond module's state dict (`model.enc.32x32_conv.weight`).
 */

import {
  add,
  type Backend,
  type DType,
  keep,
  mul,
  type Rng,
  type Tensor,
  zeros,
} from "../../compute/mod.ts";
import type { EdmConfig } from "./config.ts";
import { dhariwalUnetForward, dhariwalUnetShapes } from "./dhariwal_unet.ts";
import { embedOnDevice, embedOnHost, type NoiseEmbedding } from "./embedding.ts";
import type { EdmParams, EdmShapes } from "./layers.ts";
import { precondOnDevice, precondOnHost } from "./precond.ts";
import { songUnetForward, songUnetShapes } from "./song_unet.ts";

export type { EdmConfig } from "./config.ts";
export type { EdmParams } from "./layers.ts";

/** Every parameter's name and shape, in the order of the original's state dict. */
export function edmShapes(c: EdmConfig): EdmShapes {
  const s: EdmShapes = new Map();
  if (c.unet.type === "SongUNet") songUnetShapes(s, c, c.unet);
  else dhariwalUnetShapes(s, c, c.unet);
  return s;
}

/** The noise embedding the U-Net starts from. */
export function noiseEmbeddingOf(c: EdmConfig): NoiseEmbedding {
  const u = c.unet;
  if (u.type === "DhariwalUNet") {
    return { kind: "positional", channels: u.modelChannels, endpoint: false, sinFirst: false };
  }
  if (
    u.embeddingType === "fourier" &&
    u.fourierFreqs?.length !== (u.modelChannels * u.channelMultNoise) >> 1
  ) {
    throw new Error("edm: a Fourier embedding needs its frequencies (fourierFreqs) in the config");
  }
  return {
    kind: u.embeddingType,
    channels: u.modelChannels * u.channelMultNoise,
    endpoint: true,
    sinFirst: true,
    freqs: u.fourierFreqs,
  };
}

/**
 * D(x; σ(t)) for x [B, C, H, W] and times t [B]; `labels` one-hot [B, classes] (a zero row, or
 * no labels at all, is "no label", as EDM's label dropout trains) for a conditional network.
 */
export function edmForward(
  p: EdmParams,
  c: EdmConfig,
  x: Tensor,
  t: Tensor,
  labels?: Tensor,
): Tensor {
  const host = t.requiresGrad ? null : t.hostValues();
  const e = noiseEmbeddingOf(c);
  let k, noise: Tensor;
  if (host) {
    k = precondOnHost(c, host, x);
    noise = embedOnHost(e, k.cNoise, x);
  } else {
    k = precondOnDevice(c, t);
    noise = embedOnDevice(e, k.cNoise);
  }
  const u = c.unet, input = mul(x, k.cIn), y = labelsOf(c, x, labels);
  const f = u.type === "SongUNet"
    ? songUnetForward(p, c, u, input, noise, y)
    : dhariwalUnetForward(p, c, u, input, noise, y);
  return add(mul(x, k.cSkip), mul(f, k.cOut));
}

function labelsOf(c: EdmConfig, x: Tensor, labels?: Tensor): Tensor | null {
  const classes = c.classes ?? 0;
  if (!classes) return null;
  if (!labels) return zeros(x.backend, [x.shape[0], classes], x.dtype);
  if (labels.rank !== 2 || labels.shape[0] !== x.shape[0] || labels.shape[1] !== classes) {
    throw new Error(
      `edm: labels must be one-hot [${x.shape[0]}, ${classes}], found [${labels.shape}]`,
    );
  }
  return labels;
}

/** Fresh parameters: N(0, 1/fan-in) weights, zero biases, unit GroupNorm scales. */
export function initEdm(backend: Backend, rng: Rng, c: EdmConfig, dtype: DType): EdmParams {
  const p: EdmParams = {};
  for (const [name, shape] of edmShapes(c)) {
    if (shape.length === 1) {
      const isNormScale = name.endsWith(".weight");
      p[name] = keep(add(zeros(backend, shape, dtype), isNormScale ? 1 : 0));
    } else {
      const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
      p[name] = keep(mul(rng.derive(name).normal(backend, shape, dtype), 1 / Math.sqrt(fanIn)));
    }
  }
  return p;
}
