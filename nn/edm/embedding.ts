/**
 * EDM's noise-level embeddings of c_noise: `PositionalEmbedding` (DDPM++ and ADM; frequencies
 * (1/10000)^(j/(C/2 − endpoint)), features [cos, sin]) and `FourierEmbedding` (NCSN++; random
 * frequencies, the `map_noise.freqs` buffer, features [cos, sin] of 2π·freqs·c_noise). SongUNet
 * then swaps the halves to [sin, cos]; DhariwalUNet keeps them. The Fourier frequencies are a
 * fixed buffer, never trained, so they travel in the configuration (`fourierFreqs`), where the
 * host can read them without waiting for a device.
 *
 * When c_noise is known on the host (times carry no gradient) the features are computed there in
 * the original's float32 arithmetic, rounding after each operation as PyTorch does: the
 * arguments reach ~10³ (VP's c_noise is 999·t, Fourier frequencies are ~16·N(0, 1)), where one
 * float32 rounding of the argument moves a feature by ~10⁻⁴, and device sines of large
 * arguments are not accurate everywhere. Otherwise the same formula runs on the device.
 */

import { concat, cos, mul, reshape, sin, type Tensor, tensor } from "../../compute/mod.ts";

const f32 = Math.fround;

export interface NoiseEmbedding {
  kind: "positional" | "fourier";
  channels: number;
  /** PositionalEmbedding's `endpoint` (SongUNet: true; DhariwalUNet: false) */
  endpoint: boolean;
  /** SongUNet's [sin, cos] order (true) or the embedding's own [cos, sin] (false) */
  sinFirst: boolean;
  /** FourierEmbedding's `freqs` buffer (channels/2 values) */
  freqs?: number[];
}

/** Per-channel frequencies of a positional embedding, in float32 as the original makes them. */
function positionalFreqs(e: NoiseEmbedding): number[] {
  const half = e.channels >> 1, denom = half - (e.endpoint ? 1 : 0);
  const base = f32(1 / 10000);
  return Array.from({ length: half }, (_, j) => f32(Math.pow(base, f32(j / denom))));
}

/** The angular frequencies multiplying c_noise: positional, or 2π·freqs rounded to float32. */
function angularFreqs(e: NoiseEmbedding): number[] {
  if (e.kind === "positional") return positionalFreqs(e);
  const twoPi = f32(2 * Math.PI);
  return e.freqs!.map((v) => f32(twoPi * f32(v)));
}

/** [B, channels] features of host-known c_noise values (float32 arguments). */
export function embedOnHost(e: NoiseEmbedding, cNoise: number[], like: Tensor): Tensor {
  const w = angularFreqs(e), half = w.length, b = cNoise.length;
  const out = new Float64Array(b * 2 * half);
  const [first, second] = e.sinFirst ? [Math.sin, Math.cos] : [Math.cos, Math.sin];
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < half; j++) {
      const arg = f32(f32(cNoise[i]) * w[j]);
      out[i * 2 * half + j] = first(arg);
      out[i * 2 * half + half + j] = second(arg);
    }
  }
  return tensor(like.backend, out, [b, 2 * half], like.dtype);
}

/** The same features of c_noise [B] on the device (differentiable in c_noise). */
export function embedOnDevice(e: NoiseEmbedding, cNoise: Tensor): Tensor {
  const freqs = e.kind === "positional" ? positionalFreqs(e) : e.freqs!.map((v) => 2 * Math.PI * v);
  const w = tensor(cNoise.backend, freqs, [1, e.channels >> 1], cNoise.dtype);
  const arg = mul(reshape(cNoise, [cNoise.size, 1]), w);
  return concat(e.sinFirst ? [sin(arg), cos(arg)] : [cos(arg), sin(arg)], 1);
}
