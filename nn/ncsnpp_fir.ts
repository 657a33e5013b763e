/**
 * NCSN++'s FIR resampling (StyleGAN2's `upfirdn2d`, as score_sde's `up_or_down_sampling` uses
 * it with `fir = True`): a fixed separable low-pass kernel outer(k, k)/Σ², applied per channel,
 * with zero insertion before it (upsampling) or a stride after it (downsampling), and the fused
 * forms that put a 3×3 convolution before the upsampling filter or after the downsampling one.
 *
 * Everything is composed from existing primitives (reshape, pad, conv2d), so every backend runs
 * it and autodiff needs nothing new: the per-channel filter is one single-channel conv2d over
 * the N·C planes, and zero insertion is a pad of a [N·C, H, 1, W, 1] view.
 */

import { add, conv2d, pad, reshape, type Tensor, tensor } from "../compute/mod.ts";

/** The resampling factor: score_sde always halves or doubles. */
const FACTOR = 2;

/**
 * The 2-D kernel outer(k, k)/(Σk)² × gain as conv2d weights [1, 1, n, n], flipped (upfirdn2d
 * convolves; conv2d correlates).
 */
function firWeights(like: Tensor, k: readonly number[], gain: number): Tensor {
  const n = k.length, total = k.reduce((a, b) => a + b, 0);
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      w[i * n + j] = gain * k[n - 1 - i] * k[n - 1 - j] / (total * total);
    }
  }
  return tensor(like.backend, w, [1, 1, n, n], like.dtype);
}

/** x [N, C, H, W] with `up − 1` zeros after every sample along H and W: [N, C, up·H, up·W]. */
function insertZeros(x: Tensor, up: number): Tensor {
  const [n, c, h, w] = x.shape;
  const spread = pad(reshape(x, [n * c, h, 1, w, 1]), [0, 0, 0, 0, 0], [0, 0, up - 1, 0, up - 1]);
  return reshape(spread, [n, c, up * h, up * w]);
}

/**
 * `upfirdn2d(x, K, up, down, pad = (p0, p1))` for pads ≥ 0: zero insertion by `up`, p0 zeros
 * before and p1 after along H and W, the per-channel FIR filter, every `down`-th sample.
 */
function upfirdn(
  x: Tensor,
  weights: Tensor,
  o: { up: number; down: number; p0: number; p1: number },
): Tensor {
  const spread = o.up > 1 ? insertZeros(x, o.up) : x;
  const [n, c, h, w] = spread.shape;
  const planes = pad(reshape(spread, [n * c, 1, h, w]), [0, 0, o.p0, o.p0], [0, 0, o.p1, o.p1]);
  const y = conv2d(planes, weights, { stride: o.down, padding: 0 });
  return reshape(y, [n, c, y.shape[2], y.shape[3]]);
}

/** Python's floor division, which the original's pad arithmetic uses (p may be negative). */
const floorHalf = (p: number) => Math.floor(p / 2);

/** The shortest kernel the pad arithmetic below keeps non-negative for 3×3 convolutions. */
export const MIN_FIR_TAPS = 2;

/** `upsample_2d`: ×2 by zero insertion and the FIR filter with gain 4. */
export function firUpsample(x: Tensor, k: readonly number[]): Tensor {
  const p = k.length - FACTOR;
  return upfirdn(x, firWeights(x, k, FACTOR * FACTOR), {
    up: FACTOR,
    down: 1,
    p0: floorHalf(p + 1) + FACTOR - 1,
    p1: floorHalf(p),
  });
}

/** `downsample_2d`: the FIR filter, then every second sample. */
export function firDownsample(x: Tensor, k: readonly number[]): Tensor {
  const p = k.length - FACTOR;
  return upfirdn(x, firWeights(x, k, 1), {
    up: 1,
    down: FACTOR,
    p0: floorHalf(p + 1),
    p1: floorHalf(p),
  });
}

/**
 * `Conv2d(up=True)` (`upsample_conv_2d` plus bias): the stride-2 transposed convolution with the
 * flipped, in/out-swapped weights — zero insertion then conv2d with `w` itself, padded by
 * kh − 1 (kh − 2 after the inserted trailing zero) — then the FIR filter with gain 4.
 */
export function firUpsampleConv(x: Tensor, w: Tensor, bias: Tensor, k: readonly number[]): Tensor {
  const kh = w.shape[2];
  const spread = pad(insertZeros(x, FACTOR), [0, 0, kh - 1, kh - 1], [0, 0, kh - 2, kh - 2]);
  const y = conv2d(spread, w, { stride: 1, padding: 0 });
  const p = k.length - FACTOR - (kh - 1);
  const filtered = upfirdn(y, firWeights(x, k, FACTOR * FACTOR), {
    up: 1,
    down: 1,
    p0: floorHalf(p + 1) + FACTOR - 1,
    p1: floorHalf(p) + 1,
  });
  return add(filtered, reshape(bias, [1, bias.size, 1, 1]));
}

/**
 * `Conv2d(down=True)` (`conv_downsample_2d` plus bias): the FIR filter (padded so a valid 3×3
 * convolution follows), then the convolution with stride 2.
 */
export function firDownsampleConv(
  x: Tensor,
  w: Tensor,
  bias: Tensor,
  k: readonly number[],
): Tensor {
  const p = k.length - FACTOR + (w.shape[3] - 1);
  const filtered = upfirdn(x, firWeights(x, k, 1), {
    up: 1,
    down: 1,
    p0: floorHalf(p + 1),
    p1: floorHalf(p),
  });
  return conv2d(filtered, w, { stride: FACTOR, padding: 0 }, bias);
}
