/**
 * How discrete data are stored: integers k with 2^bits levels, mapped to model space by
 * y = a·k + b. Training maps its batches this way; evaluation dequantises from it.
 */

/** How stored integers map to model space: y = a·k + b, with 2^bits levels. */
export interface Quantization {
  bits: number;
  a: number;
  b: number;
}

/** The [−1, 1] scaling of 8-bit images: a = 2/256, b = −1 (bin centres at a(k + ½) + b). */
export const EIGHT_BIT_SYMMETRIC: Quantization = { bits: 8, a: 2 / 256, b: -1 };
