/**
 * Matmul operands packed into textures for the texture kernels (wgsl/matmul_texture.ts), with
 * the scratch textures they are packed into.
 */

import type { Storage } from "../backend.ts";
import type { Dispatcher } from "./dispatcher.ts";

export class TexturePacker {
  #d: Dispatcher;
  #scratch = new Map<string, { texture: GPUTexture; view: GPUTextureView }>();

  constructor(d: Dispatcher) {
    this.#d = d;
  }

  /** Whether the packed operands fit in textures (A: batch·m rows; B: batch·Kp rows). */
  fits(batch: number, m: number, n: number, k: number): boolean {
    const kp = 4 * Math.ceil(k / 4), maxDim = this.#d.device.limits.maxTextureDimension2D;
    return batch * m <= maxDim && batch * kp <= maxDim && kp / 4 <= maxDim &&
      Math.ceil(n / 4) <= maxDim;
  }

  /**
   * Packs the strided matrices X[p] (rows × cols) into a scratch texture along cols, rows padded
   * to `paddedRows`. Scratch textures are reused: dispatches in one queue run in order, so the
   * next pack cannot overwrite a texture before the product that reads it has run.
   */
  pack(
    role: string,
    x: Storage,
    strides: readonly [number, number, number],
    batch: number,
    rows: number,
    cols: number,
    paddedRows: number,
  ): GPUTextureView {
    const width = Math.ceil(cols / 4), height = batch * paddedRows;
    const key = `${role}:${width}x${height}`;
    let entry = this.#scratch.get(key);
    if (!entry) {
      const texture = this.#d.device.createTexture({
        size: [width, height],
        format: "rgba32float",
        usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.STORAGE_BINDING,
      });
      entry = { texture, view: texture.createView() };
      this.#scratch.set(key, entry);
    }
    this.#d.launch1d("pack", [x, entry.view], width * height, (p) => {
      p.set([width * height, rows, cols, paddedRows, width, strides[0], strides[1], strides[2]]);
    });
    return entry.view;
  }
}
