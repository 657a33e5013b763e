/**
 * EDM's `Conv2d`: a k×k convolution ("same" padding k/2; k = 0 means no convolution, only the
 * resampling) with optional ×2 up- or downsampling by a separable FIR filter f ⊗ f / (Σf)².
 * Downsampling is the filter applied per channel at stride 2 with padding (L − 1)/2 (L the
 * filter length); upsampling is its transposed convolution with the filter ×4. The per-channel
 * filter runs as one single-channel convolution over all N·C planes (conv2d for down, its
 * input-gradient map, i.e. the transposed convolution, for up), so every backend runs it; the
 * filter [1, 1] is exactly 2×2 average pooling and nearest-neighbour doubling, used directly.
 * `fused` (the NCSN++ residual encoder's 3×3 downsampling convolution) convolves first with the
 * padding widened by (L − 1)/2, then filters at stride 2 without padding, as the original does.
 */

import {
  add,
  avgPool2x2,
  conv2d,
  conv2dInputGrad,
  reshape,
  type Tensor,
  tensor,
  upsampleNearest2x,
} from "../../compute/mod.ts";
import type { EdmParams, EdmShapes } from "./layers.ts";

export interface ConvSpec {
  inC: number;
  outC: number;
  /** 0: no weights, resampling only */
  kernel: number;
  bias: boolean;
  up: boolean;
  down: boolean;
  filter: number[];
  fused: boolean;
}

export function convSpec(
  inC: number,
  outC: number,
  kernel: number,
  o: Partial<Omit<ConvSpec, "inC" | "outC" | "kernel">> = {},
): ConvSpec {
  return {
    inC,
    outC,
    kernel,
    bias: o.bias ?? true,
    up: o.up ?? false,
    down: o.down ?? false,
    filter: o.filter ?? [1, 1],
    fused: o.fused ?? false,
  };
}

export function convShapes(s: EdmShapes, name: string, c: ConvSpec) {
  if (c.kernel === 0) return;
  s.set(`${name}.weight`, [c.outC, c.inC, c.kernel, c.kernel]);
  if (c.bias) s.set(`${name}.bias`, [c.outC]);
}

/** x [N, inC, H, W] → [N, outC, H′, W′] (H′ = 2H up, H/2 down). */
export function edmConv(p: EdmParams, name: string, c: ConvSpec, x: Tensor): Tensor {
  const w = c.kernel ? p[`${name}.weight`] : null;
  const wPad = c.kernel >> 1, fPad = (c.filter.length - 1) >> 1;
  let y = x;
  if (c.fused && c.up && w) {
    y = upsample(y, c.filter, Math.max(fPad - wPad, 0));
    y = conv2d(y, w, { stride: 1, padding: Math.max(wPad - fPad, 0) });
  } else if (c.fused && c.down && w) {
    y = conv2d(y, w, { stride: 1, padding: wPad + fPad });
    y = downsample(y, c.filter, 0);
  } else {
    if (c.up) y = upsample(y, c.filter, fPad);
    if (c.down) y = downsample(y, c.filter, fPad);
    if (w) y = conv2d(y, w, { stride: 1, padding: wPad });
  }
  const b = c.kernel && c.bias ? p[`${name}.bias`] : null;
  return b ? add(y, reshape(b, [1, b.size, 1, 1])) : y;
}

const isBox = (f: number[]) => f.length === 2 && f[0] === f[1];

/** The 2-D filter f ⊗ f / (Σf)² times `gain`, as [1, 1, L, L]. */
function filter2d(x: Tensor, f: number[], gain: number): Tensor {
  const l = f.length, total = f.reduce((a, b) => a + b, 0) ** 2;
  const k = new Float64Array(l * l);
  for (let i = 0; i < l; i++) for (let j = 0; j < l; j++) k[i * l + j] = f[i] * f[j] / total * gain;
  return tensor(x.backend, k, [1, 1, l, l], x.dtype);
}

/** Each channel filtered at stride 2 with `pad` zeros around it. */
function downsample(x: Tensor, f: number[], pad: number): Tensor {
  if (isBox(f) && pad === 0) return avgPool2x2(x);
  const [n, c, h, w] = x.shape;
  const y = conv2d(reshape(x, [n * c, 1, h, w]), filter2d(x, f, 1), { stride: 2, padding: pad });
  return reshape(y, [n, c, y.shape[2], y.shape[3]]);
}

/** Each channel's transposed convolution with 4·filter at stride 2, cropped by `pad`. */
function upsample(x: Tensor, f: number[], pad: number): Tensor {
  if (isBox(f) && pad === 0) return upsampleNearest2x(x);
  const [n, c, h, w] = x.shape, l = f.length;
  const out: [number, number] = [(h - 1) * 2 - 2 * pad + l, (w - 1) * 2 - 2 * pad + l];
  const y = conv2dInputGrad(reshape(x, [n * c, 1, h, w]), filter2d(x, f, 4), {
    stride: 2,
    padding: pad,
    inputHW: out,
  });
  return reshape(y, [n, c, out[0], out[1]]);
}
