/**
 * Which kernels run a conv2d map (forward, weight gradient, input gradient), and their launch.
 * The three maps share one chooser: the texture lowering (CPU adapters), the direct kernels
 * (one thread per output: small convolutions) or shared-memory implicit GEMMs (real GPUs).
 */

import type { ConvGeometry, Storage } from "../backend.ts";
import type { Trial } from "./autotune.ts";
import { TextureConv } from "./conv2d_texture.ts";
import { type Dispatcher, MAX_GROUPS } from "./dispatcher.ts";
import { fill } from "./elementwise_launch.ts";
import type { Kernel } from "./kernels.ts";
import {
  type KernelChoices,
  NOMINAL_BATCH,
  type ScheduleSettings,
  timedTrial,
} from "./schedule.ts";
import { convTiledDims } from "./wgsl/conv2d_tiled.ts";
import { TILE } from "./wgsl/matmul_tiled.ts";

/**
 * conv2d maps: `texture` (the lowering of conv2d_texture.ts), `direct` (one thread per output),
 * `tiled` (shared-memory implicit GEMM, wgsl/conv2d_tiled.ts).
 */
export type ConvVariant = "texture" | "direct" | "tiled";
export const CONV_VARIANTS: readonly ConvVariant[] = ["texture", "direct", "tiled"];
/** 0 forward, 1 weight gradient, 2 input gradient (the MODE of wgsl/conv2d_tiled.ts). */
export type ConvMode = 0 | 1 | 2;
/** The kernel family of each map, as kernel choices are recorded. */
const CONV_FAMILY = ["conv2d", "conv2d_weight_grad", "conv2d_input_grad"] as const;

export class ConvSchedule {
  /** conv2d through texture-packed GEMMs, taken with the `texture` variant. */
  readonly texture: TextureConv;
  #d: Dispatcher;
  #settings: ScheduleSettings;
  #choices: KernelChoices;

  constructor(d: Dispatcher, settings: ScheduleSettings, choices: KernelChoices) {
    this.#d = d;
    this.#settings = settings;
    this.#choices = choices;
    this.texture = new TextureConv({
      device: d.device,
      dispatch: (kernel, res, fillSlot, grid, constants) => {
        const p = d.params();
        fillSlot(p.u);
        d.dispatch(kernel, res, p.offset, grid, constants);
      },
      placeholder: () => d.placeholder(),
      fill: (out, value) => fill(d, out, value),
      flush: () => d.flush(),
    });
  }

  /**
   * Runs map `mode` in the default variant (`convVariant` when set), or the tuned choice for this
   * map and geometry; batch-invariant, the default for NOMINAL_BATCH images of this geometry,
   * never tuned. `bias` (forward only) is added as the output is stored.
   */
  run(mode: ConvMode, a: Storage, b: Storage, g: ConvGeometry, out: Storage, bias?: Storage) {
    const settings = this.#settings;
    if (settings.batchInvariant) {
      const v = settings.convVariant ?? this.#default({ ...g, n: NOMINAL_BATCH });
      this.#choices.note(CONV_FAMILY[mode], this.#with(v, mode, a, b, g, out, bias));
      return;
    }
    const texture = this.texture.applies(g);
    let variant: ConvVariant = settings.convVariant ?? this.#default(g);
    if (settings.autotune && settings.convVariant === null) {
      const key =
        `conv${mode}:${g.n}x${g.c}x${g.h}x${g.w}:${g.o}x${g.kh}x${g.kw}:s${g.stride}p${g.padding}`;
      const eligible = CONV_VARIANTS.filter((v) => v !== "texture" || texture);
      const tuned = settings.autotune.pick(key, eligible, () => this.#trial(eligible, mode, g));
      variant = (tuned as ConvVariant | undefined) ?? variant;
    }
    this.#choices.note(CONV_FAMILY[mode], this.#with(variant, mode, a, b, g, out, bias));
  }

  /** The untuned variant: the texture lowering where it pays on CPU adapters, else by adapter. */
  #default(g: ConvGeometry): ConvVariant {
    return this.texture.applies(g) && this.#settings.matmulVariant.startsWith("texture")
      ? "texture"
      : this.#settings.software
      ? "direct"
      : "tiled";
  }

  /**
   * One map in one variant. Returns the variant that ran: `direct` where the texture lowering
   * finds no chunk that fits (a limit of the geometry without its batch).
   */
  #with(
    v: ConvVariant,
    mode: ConvMode,
    a: Storage,
    b: Storage,
    g: ConvGeometry,
    out: Storage,
    bias?: Storage,
  ): ConvVariant {
    const withBias = { BIAS: bias ? 1 : 0 }, biasOrPlaceholder = bias ?? this.#d.placeholder();
    if (v === "texture") {
      const t = this.texture;
      const done = mode === 0
        ? t.forward(a, b, g, out, bias)
        : mode === 1
        ? t.weightGrad(a, b, g, out)
        : t.inputGrad(a, b, g, out);
      if (done) return v;
    }
    if (v === "tiled") {
      const [m, n] = convTiledDims(mode, g), p = this.#d.params();
      p.u.set([0, g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.stride, g.padding, g.ho, g.wo]);
      const gx = Math.ceil(n / TILE);
      this.#d.dispatch("conv2dTiled", [a, b, out, biasOrPlaceholder], p.offset, [
        Math.min(gx, MAX_GROUPS),
        Math.ceil(m / TILE),
        Math.ceil(gx / MAX_GROUPS),
      ], { MODE: mode, ...withBias });
      return v;
    }
    const [kernel, count] = mode === 0
      ? ["conv2d", g.n * g.o * g.ho * g.wo] as const
      : mode === 1
      ? ["conv2dWeightGrad", g.o * g.c * g.kh * g.kw] as const
      : ["conv2dInputGrad", g.n * g.c * g.h * g.w] as const;
    if (mode === 0) this.#direct(kernel, [a, b, out, biasOrPlaceholder], g, count, withBias);
    else this.#direct(kernel, [a, b, out], g, count);
    return "direct";
  }

  /** One thread per output of the map (wgsl/conv2d.ts). */
  #direct(
    kernel: Kernel,
    storages: Storage[],
    g: ConvGeometry,
    count: number,
    constants?: Record<string, number>,
  ): void {
    this.#d.launch1d(kernel, storages, count, (p) => {
      p.set([count, g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.stride, g.padding, g.ho, g.wo]);
    }, constants);
  }

  /** Times each eligible variant of one map on scratch operands of its geometry. */
  #trial(candidates: ConvVariant[], mode: ConvMode, g: ConvGeometry): Trial {
    const x = g.n * g.c * g.h * g.w, w = g.o * g.c * g.kh * g.kw, dy = g.n * g.o * g.ho * g.wo;
    const sizes = mode === 0 ? [x, w, dy] : mode === 1 ? [x, dy, w] : [dy, w, x];
    return timedTrial(
      this.#d,
      candidates,
      sizes,
      (c, [a, b, out]) => this.#with(c as ConvVariant, mode, a, b, g, out),
    );
  }
}
