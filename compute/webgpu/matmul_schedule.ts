/**
 * Which matmul kernel runs a product, and its launch: the default variant, the tuner's choice
 * per shape, or batch-invariant mode's choice from the shape without its rows.
 */

import type { Storage } from "../backend.ts";
import type { Trial } from "./autotune.ts";
import { type Dispatcher, MAX_GROUPS } from "./dispatcher.ts";
import {
  type KernelChoices,
  NOMINAL_BATCH,
  type ScheduleSettings,
  timedTrial,
} from "./schedule.ts";
import type { TexturePacker } from "./texture_pack.ts";
import { MATMUL_COLS, MATMUL_LANES, MATMUL_ROWS } from "./wgsl/matmul.ts";
import { TEX_LANES } from "./wgsl/matmul_texture.ts";
import { TILE, TILE_SMALL } from "./wgsl/matmul_tiled.ts";

/**
 * Matmul kernels: `texture` (4, 8 or 16 accumulator rows) packs operands into textures (fast on
 * CPU-backed adapters, see wgsl/matmul_texture.ts); `storage` reads buffers directly with
 * uniform loads of A (register-tiled, lavapipe-shaped); `tiled` is the classic shared-memory
 * tiling for real GPUs, in 64×64 tiles (`tiled`) or 32×32 (`tiled32`, more workgroups for small
 * products). `matmulVariant` is the default; the autotuner may pick per shape. Every variant
 * accumulates each output along k in increasing order, one fma per term, so all of them give the
 * same bits: no choice among them changes a result (tests/compute/autotune_test.ts).
 */
export type MatmulVariant =
  | "texture"
  | "texture8"
  | "texture16"
  | "storage"
  | "tiled"
  | "tiled32";
export const MATMUL_VARIANTS: readonly MatmulVariant[] = [
  "texture",
  "texture8",
  "texture16",
  "storage",
  "tiled",
  "tiled32",
];
const TEXTURE_KERNEL = {
  texture: ["matmulTexture", 4],
  texture8: ["matmulTexture8", 8],
  texture16: ["matmulTexture16", 16],
} as const;

/** Below this many multiply-adds the two packing dispatches cost more than they save. */
const TEXTURE_MATMUL_MIN_MACS = 1 << 15;

/** One product's operands, as `matmul` receives them. */
export type MatmulShape = {
  a: Storage;
  as: readonly [number, number, number];
  b: Storage;
  bs: readonly [number, number, number];
  batch: number;
  m: number;
  n: number;
  k: number;
  out: Storage;
  /** [n], added to every row of the product as it is stored */
  bias?: Storage;
};

export class MatmulSchedule {
  #d: Dispatcher;
  #settings: ScheduleSettings;
  #choices: KernelChoices;
  #packer: TexturePacker;

  constructor(
    d: Dispatcher,
    settings: ScheduleSettings,
    choices: KernelChoices,
    packer: TexturePacker,
  ) {
    this.#d = d;
    this.#settings = settings;
    this.#choices = choices;
    this.#packer = packer;
  }

  /** Chooses a variant for the product, notes it and records the product. */
  run(s: MatmulShape): void {
    const { as, bs, batch, m, n, k } = s;
    if (batch > MAX_GROUPS) throw new Error(`webgpu matmul: batch ${batch} exceeds ${MAX_GROUPS}`);
    const settings = this.#settings;
    if (settings.batchInvariant) {
      const chosen = this.#classVariant(n, k);
      this.#choices.note("matmul", chosen);
      // a batch too tall for a texture runs on storage buffers: the same bits (see MatmulVariant)
      this.with(
        chosen in TEXTURE_KERNEL && !this.#packer.fits(batch, m, n, k) ? "storage" : chosen,
        s,
      );
      return;
    }
    let variant: MatmulVariant = this.#fits(settings.matmulVariant, batch, m, n, k)
      ? settings.matmulVariant
      : "storage";
    if (settings.autotune) {
      const eligible = MATMUL_VARIANTS.filter((v) => this.#fits(v, batch, m, n, k));
      // operand layouts change which loads are contiguous, so they are part of the shape
      const layout = `${as[2] === 1 ? "r" : "c"}${bs[2] === 1 ? "r" : "c"}`;
      const key = `matmul:${batch}x${m}x${n}x${k}:${layout}`;
      const tuned = settings.autotune.pick(key, eligible, () => this.#trial(eligible, s));
      variant = (tuned as MatmulVariant | undefined) ?? variant;
    }
    this.#choices.note("matmul", variant);
    this.with(variant, s);
  }

  /** Records the product in one variant. */
  with(variant: MatmulVariant, s: MatmulShape): void {
    const { a, as, b, bs, batch, m, n, k, out } = s;
    const bias = s.bias ?? this.#d.placeholder(), BIAS = s.bias ? 1 : 0;
    if (variant === "texture" || variant === "texture8" || variant === "texture16") {
      const [kernel, rows] = TEXTURE_KERNEL[variant];
      const kp = 4 * Math.ceil(k / 4);
      const ta = this.#packer.pack("a", a, as, batch, m, k, m);
      const tb = this.#packer.pack("b", b, bs, batch, k, n, kp);
      const p = this.#d.params();
      p.u.set([batch, m, n, k, kp]);
      this.#d.dispatch(kernel, [ta, tb, out, bias], p.offset, [
        Math.ceil(Math.ceil(n / 4) / TEX_LANES),
        Math.ceil(m / rows),
        batch,
      ], { BIAS });
      return;
    }
    const p = this.#d.params();
    p.u.set([batch, m, n, k, as[0], as[1], as[2], 0, bs[0], bs[1], bs[2]]);
    const tile = variant === "tiled" ? TILE : variant === "tiled32" ? TILE_SMALL : 0;
    const grid: [number, number, number] = tile
      ? [Math.ceil(n / tile), Math.ceil(m / tile), batch]
      : [Math.ceil(n / (MATMUL_LANES * MATMUL_COLS)), Math.ceil(m / MATMUL_ROWS), batch];
    const kernel = tile === TILE ? "matmulTiled" : tile ? "matmulTiled32" : "matmul";
    this.#d.dispatch(kernel, [a, b, out, bias], p.offset, grid, { BIAS });
  }

  /** Whether a variant can run this product (textures have a largest side; packs cost). */
  #fits(v: MatmulVariant, batch: number, m: number, n: number, k: number): boolean {
    if (!(v in TEXTURE_KERNEL)) return true;
    return m * n * k >= TEXTURE_MATMUL_MIN_MACS && this.#packer.fits(batch, m, n, k);
  }

  /**
   * Batch-invariant mode's matmul variant, from the columns and the depth alone: the default
   * variant as it would be chosen for NOMINAL_BATCH rows in one product.
   */
  #classVariant(n: number, k: number): MatmulVariant {
    const v = this.#settings.matmulVariant;
    return this.#fits(v, 1, NOMINAL_BATCH, n, k) ? v : "storage";
  }

  /** Times each eligible variant on scratch operands of this product's shape and layout. */
  #trial(candidates: MatmulVariant[], s: MatmulShape): Trial {
    const { as, bs, batch, m, n, k } = s;
    // same layouts as the real operands: row- or column-major within each matrix
    const as2: [number, number, number] = as[2] === 1 ? [m * k, k, 1] : [m * k, 1, m];
    const bs2: [number, number, number] = bs[2] === 1 ? [k * n, n, 1] : [k * n, 1, k];
    return timedTrial(
      this.#d,
      candidates,
      [batch * m * k, batch * k * n, batch * m * n],
      (c, [a, b, out]) =>
        this.with(c as MatmulVariant, { a, as: as2, b, bs: bs2, batch, m, n, k, out }),
    );
  }
}
