/** Attention and image-shaped helpers (NCHW), composed from primitives. */

import type { Tensor } from "../tensor.ts";
import { tensor } from "../constants.ts";
import { fmt } from "../shape.ts";
import { expand, lt, matmul, mean, mul, reshape, where } from "./basic.ts";
import { conv2d } from "../primitives.ts";
export { conv2d, conv2dInputGrad, conv2dWeightGrad } from "../primitives.ts";
import { softmax } from "./normalization.ts";
import type { Rng } from "../rng.ts";

/** softmax(q kᵀ / √d) v over the last two axes; q, k, v: [..., L, d]. */
export function attention(q: Tensor, k: Tensor, v: Tensor): Tensor {
  const d = q.shape[q.rank - 1];
  const scores = mul(matmul(q, k, false, true), 1 / Math.sqrt(d));
  return matmul(softmax(scores, -1), v);
}

/** 2×2 average pooling of [N, C, H, W] with even H and W. */
export function avgPool2x2(x: Tensor): Tensor {
  const [n, c, h, w] = x.shape;
  if (x.rank !== 4 || h % 2 !== 0 || w % 2 !== 0) {
    throw new Error(`avgPool2x2: need [N, C, H, W] with even H and W, got ${fmt(x.shape)}`);
  }
  return reshape(mean(reshape(x, [n * c, h / 2, 2, w / 2, 2]), [2, 4]), [n, c, h / 2, w / 2]);
}

/** Nearest-neighbour ×2 upsampling of [N, C, H, W]. */
export function upsampleNearest2x(x: Tensor): Tensor {
  const [n, c, h, w] = x.shape;
  if (x.rank !== 4) throw new Error(`upsampleNearest2x: need [N, C, H, W], got ${fmt(x.shape)}`);
  const wide = expand(reshape(x, [n * c, h, 1, w, 1]), [n * c, h, 2, w, 2]);
  return reshape(wide, [n, c, 2 * h, 2 * w]);
}

/** Mirrors the last axis (a matmul with the exchange matrix, so it differentiates for free). */
export function flipLastAxis(x: Tensor): Tensor {
  const w = x.shape[x.rank - 1];
  const j = new Float64Array(w * w);
  for (let i = 0; i < w; i++) j[i * w + (w - 1 - i)] = 1;
  const rows = x.size / w;
  return reshape(
    matmul(reshape(x, [1, rows, w]), tensor(x.backend, j, [1, w, w], x.dtype)),
    x.shape,
  );
}

/** Flips each example of [N, …, W] horizontally with probability ½ (data augmentation). */
export function randomHorizontalFlip(x: Tensor, rng: Rng): Tensor {
  const coin = rng.uniform(x.backend, [x.shape[0], ...x.shape.slice(1).map(() => 1)], x.dtype);
  return where(lt(coin, 0.5), flipLastAxis(x), x);
}

/** conv2d plus a per-channel bias [O], added as the convolution stores its output. */
export function conv2dBias(x: Tensor, w: Tensor, bias: Tensor, stride = 1, padding = 0): Tensor {
  return conv2d(x, w, { stride, padding }, bias);
}
