/**
 * PNG output: 8-bit grayscale or RGB encoding, a grid of C × H × W images with 1-pixel gaps,
 * an atomic grid writer, and the map from model-space values back to bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const x = new Float32Array(16 * 3 * 8 * 8).fill(0); // 16 RGB 8 × 8 samples in [−1, 1]
 * const dir = await Deno.makeTempDir();
 * await writePngGrid(`${dir}/samples.png`, { n: 16, shape: [3, 8, 8], pixels: toPixelBytes(x) });
 * const png = await Deno.readFile(`${dir}/samples.png`);
 * const ihdr = new DataView(png.buffer, 16, 8); // width and height, after signature and IHDR tag
 * assert.deepEqual([ihdr.getUint32(0), ihdr.getUint32(4)], [35, 35]); // 4 × 4 cells, 1-pixel gaps
 * await Deno.remove(dir, { recursive: true });
 * ```
 */

import { encode } from "fast-png";
import { writeFileAtomic } from "./atomic.ts";

/** An image with interleaved channels (row by row, pixel by pixel, channel by channel). */
export interface RasterImage {
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** n images of [C, H, W] (C = 1 or 3), one after another, each in C, H, W order. */
export interface ImageBatch {
  n: number;
  shape: readonly [number, number, number];
  pixels: Uint8Array;
}

/** Gap and empty-cell level: mid-gray shows against both black and white images. */
export const GRID_GAP_LEVEL = 128;

/** An 8-bit PNG of `pixels` (height × width × channels, interleaved). */
export function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
): Uint8Array {
  for (const [name, v] of [["width", width], ["height", height]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new RangeError(`encodePng: ${name} must be a positive integer, got ${v}`);
    }
  }
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`encodePng: channels must be 1 or 3, got ${channels}`);
  }
  if (pixels.length !== width * height * channels) {
    throw new RangeError(
      `encodePng: ${width}×${height}×${channels} needs ${
        width * height * channels
      } bytes, got ${pixels.length}`,
    );
  }
  return encode({ width, height, data: pixels, depth: 8, channels });
}

/**
 * The images laid out row by row, `cols` to a row (default ⌈√n⌉), with 1-pixel gaps and
 * unused cells of level GRID_GAP_LEVEL: image k's pixel (y, x) lands at
 * (⌊k/cols⌋·(H+1) + y, (k mod cols)·(W+1) + x).
 */
export function imageGrid(images: ImageBatch, cols?: number): RasterImage {
  const { n, pixels } = images, [c, h, w] = images.shape;
  if (c !== 1 && c !== 3) throw new RangeError(`imageGrid: expected 1 or 3 channels, got ${c}`);
  if (!Number.isSafeInteger(n) || n < 1 || pixels.length !== n * c * h * w) {
    throw new RangeError(
      `imageGrid: ${n} images of ${c}×${h}×${w} need ${n * c * h * w} bytes, got ${pixels.length}`,
    );
  }
  const k = cols ?? Math.ceil(Math.sqrt(n));
  if (!Number.isSafeInteger(k) || k < 1) {
    throw new RangeError(`imageGrid: cols must be a positive integer, got ${cols}`);
  }
  const rows = Math.ceil(n / k);
  const width = k * (w + 1) - 1, height = rows * (h + 1) - 1, plane = h * w;
  const out = new Uint8Array(width * height * c).fill(GRID_GAP_LEVEL);
  for (let i = 0; i < n; i++) {
    const top = Math.floor(i / k) * (h + 1), left = (i % k) * (w + 1);
    const src = i * c * plane;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const dst = ((top + y) * width + left + x) * c;
        for (let ch = 0; ch < c; ch++) out[dst + ch] = pixels[src + ch * plane + y * w + x];
      }
    }
  }
  return { pixels: out, width, height, channels: c as 1 | 3 };
}

/** Writes `imageGrid(images, cols)` as a PNG, atomically (a crash leaves the old file). */
export async function writePngGrid(
  path: string,
  images: ImageBatch,
  cols?: number,
): Promise<void> {
  const g = imageGrid(images, cols);
  await writeFileAtomic(path, encodePng(g.pixels, g.width, g.height, g.channels));
}

/**
 * Model-space values to bytes, inverting the training scaler y = k/127.5 − 1:
 * k = round((y + 1)·127.5), clamped to [0, 255] (±∞ clamp too). NaN throws, naming the first
 * index: a diverged sample should be seen, not drawn as black.
 */
export function toPixelBytes(values: Float32Array | Float64Array): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) {
      throw new RangeError(`toPixelBytes: value ${i} of ${values.length} is NaN`);
    }
    out[i] = Math.min(255, Math.max(0, Math.round((v + 1) * 127.5)));
  }
  return out;
}
