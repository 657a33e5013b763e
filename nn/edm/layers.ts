/**
 * EDM's basic layers (`Linear`, `GroupNorm`) over parameters kept by their state-dict names
 * (`model.map_layer0.weight`), and the registry of names and shapes the architectures fill in
 * state-dict order, so an imported snapshot is checked name by name and shape by shape.
 *
 * Layouts as in the original: `Linear.weight` [out, in]; `Conv2d.weight` [O, C, k, k];
 * GroupNorm with min(32, C/4) groups.
 */

import { add, groupNorm, matmul, type Tensor } from "../../compute/mod.ts";

/** Parameters (and the Fourier embedding's frequency buffer) by their state-dict names. */
export type EdmParams = Record<string, Tensor>;

/** Names and shapes in state-dict order. */
export type EdmShapes = Map<string, number[]>;

/** `Linear(in, out, bias)`: weight [out, in], bias [out]. */
export function linearShapes(s: EdmShapes, name: string, inF: number, outF: number, bias = true) {
  s.set(`${name}.weight`, [outF, inF]);
  if (bias) s.set(`${name}.bias`, [outF]);
}

/** x [B, in] → x Wᵀ (+ b) [B, out]. */
export function linear(p: EdmParams, name: string, x: Tensor): Tensor {
  const y = matmul(x, p[`${name}.weight`], false, true);
  const b = p[`${name}.bias`];
  return b ? add(y, b) : y;
}

/** `GroupNorm(C)`: weight and bias [C]. */
export function groupNormShapes(s: EdmShapes, name: string, channels: number) {
  s.set(`${name}.weight`, [channels]);
  s.set(`${name}.bias`, [channels]);
}

/** EDM's group count: min(32, C / 4), at least one channel group of 4. */
export const groupsOf = (channels: number) => Math.min(32, Math.floor(channels / 4));

/** x [N, C, H, W] group-normalised with EDM's group count and the given ε. */
export function edmGroupNorm(p: EdmParams, name: string, x: Tensor, eps: number): Tensor {
  return groupNorm(x, groupsOf(x.shape[1]), p[`${name}.weight`], p[`${name}.bias`], eps);
}
