/**
 * conv2d, its input gradient and its weight gradient as texture GEMMs (CPU-backed adapters):
 * the image is packed once into shifted rows (wgsl/conv2d_texture.ts) that the product reads
 * as an implicit im2col, and the product stores straight into NCHW (wgsl/conv2d.ts).
 *
 * - forward: y[o, (n,i,j)] = Σ_(c,a,b) w[o, (c,a,b)] · X[(c,a,b), (n,i,j)] (B = shifted x)
 * - weight gradient: dw[(c,a,b), o] = Σ_(n,i,j) X[(c,a,b), (n,i,j)] · dy[(n,i,j), o]
 *   (A = shifted x; stored transposed into dw [O, C, kh, kw])
 * - input gradient: for each of the s² stride phases (ry, rx), dx[n, c, s·y'+ry, s·x'+rx] is a
 *   stride-1 correlation of dy with a flipped, channel-transposed sub-kernel (the taps a ≡
 *   ry + p mod s), written in place: no scatter and no col2im pass, for every stride (17×
 *   faster than the direct kernel at stride 2, measured). For s = 1 it is one phase: the whole
 *   kernel flipped, padding kh − 1 − p.
 *
 * Operands too large for one texture are split into chunks of rows, channels (accumulating
 * after the first) and images.
 */

import type { ConvGeometry, Storage } from "../backend.ts";
import { CONV_GEMM_LANES } from "./wgsl/conv2d.ts";
import {
  CONV_GEMM_TILES as tiles,
  CONV_PACK_LANES,
  CONV_TEXTURE_KERNELS,
} from "./wgsl/conv2d_texture.ts";

/** What the lowering needs from the backend: its device and its way to record dispatches. */
export interface ConvTextureHost {
  readonly device: GPUDevice;
  /** Records a dispatch over `grid` workgroups; `fill` writes the kernel's parameter slot. */
  dispatch(
    kernel: keyof typeof CONV_TEXTURE_KERNELS,
    resources: (Storage | GPUTextureView)[],
    fill: (u: Uint32Array) => void,
    grid: [number, number, number],
    constants?: Record<string, number>,
  ): void;
  /** A small buffer to bind where an optional operand (the bias) is absent. */
  placeholder(): Storage;
  fill(out: Storage, value: number): void;
  /** Submits recorded work (before a scratch texture that it may use is destroyed). */
  flush(): void;
}

/**
 * Below this many multiply-adds the direct kernels win (measured crossover on lavapipe:
 * 2^15 direct ahead, 2^16 about even, 2^17 the texture path 1.3–2.3× ahead): this path costs
 * three dispatches or more, ~0.1 ms each.
 */
export const CONV_TEXTURE_MIN_MACS = 1 << 16;

/** A source [n, q, hs, ws] seen through a kh × kw correlation of stride s at offset (oy, ox). */
type Shifted = Record<
  "n" | "q" | "hs" | "ws" | "ho" | "wo" | "kh" | "kw" | "s" | "oy" | "ox",
  number
>;
/** Texels per output row, and source rows that one image's output rows touch. */
const shape = (sh: Shifted) => [Math.ceil(sh.wo / 4), sh.s * (sh.ho - 1) + sh.kh];
/** Workgroups per grid dimension. */
const MAX_GROUPS = 65535;
/** Chunk sizes: rows, source channels and images per product. */
type Plan = { mc: number; qc: number; nc: number };
/**
 * A product out = W · shifted(src) with m rows; `wgeo` = [taps, kw', base, rs, qs, as, bs] of
 * CONV_PACK_WEIGHTS, `store` = [img, rowStride, pitch, ys, yo, xs, xo] of CONV_GEMM.
 */
type Job = {
  src: Storage;
  w: Storage;
  sh: Shifted;
  plan: Plan;
  m: number;
  wgeo: number[];
  store: number[];
  /** one per product row (output channel), added by the first k chunk's store */
  bias?: Storage;
};

/** The texture lowering of the three convolution maps, with its scratch textures. */
export class TextureConv {
  /** Smallest convolution (in multiply-adds) that takes this path. */
  minMacs = CONV_TEXTURE_MIN_MACS;
  /** Largest scratch texture side (tests lower it to force chunks). */
  maxDim: number;
  /** Largest scratch texture, in texels (64 MiB). */
  maxTexels = 1 << 22;
  #host: ConvTextureHost;
  #textures = new Map<string, { texture: GPUTexture; view: GPUTextureView }>();

  constructor(host: ConvTextureHost) {
    this.#host = host;
    this.maxDim = host.device.limits.maxTextureDimension2D;
  }

  /** Whether a convolution of this geometry is big enough to pay for the packs. */
  applies(g: ConvGeometry): boolean {
    const macs = g.n * g.o * g.c * g.ho * g.wo * g.kh * g.kw;
    return macs > 0 && macs >= this.minMacs;
  }

  /** y [N, O, Ho, Wo] = conv2d(x, w) + bias; false (nothing recorded) when no chunk fits. */
  forward(x: Storage, w: Storage, g: ConvGeometry, out: Storage, bias?: Storage): boolean {
    const sh = input(g), plan = this.#planB(sh, g.o), taps = g.kh * g.kw;
    if (!plan) return false;
    const wgeo = [taps, g.kw, 0, g.c * taps, taps, g.kw, 1];
    const store = [g.o * g.ho * g.wo, g.ho * g.wo, g.wo, 1, 0, 1, 0];
    this.#implicitB(out, { src: x, w, sh, plan, m: g.o, wgeo, store, bias });
    return true;
  }

  /** dx [N, C, H, W] from dy and w, one product per stride phase. */
  inputGrad(dy: Storage, w: Storage, g: ConvGeometry, out: Storage): boolean {
    const s = g.stride, taps = g.kh * g.kw;
    // Phase r of an axis: tap k0 + s·m meets output i = y' + ⌊(r + p)/s⌋ − m; flipping m to
    // t − 1 − m' makes it a correlation at offset ⌊(r + p)/s⌋ − t + 1.
    const axis = (r: number, k: number, extent: number) => {
      const k0 = (r + g.padding) % s, t = Math.max(0, Math.ceil((k - k0) / s));
      const off = Math.floor((r + g.padding) / s) - t + 1;
      return { k0, t, off, len: Math.ceil((extent - r) / s) };
    };
    const phases = [];
    for (let ry = 0; ry < Math.min(s, g.h); ry++) {
      for (let rx = 0; rx < Math.min(s, g.w); rx++) {
        const py = axis(ry, g.kh, g.h), px = axis(rx, g.kw, g.w);
        const sh = { n: g.n, q: g.o, hs: g.ho, ws: g.wo, ho: py.len, wo: px.len, s: 1 };
        const phase = { ...sh, kh: py.t, kw: px.t, oy: py.off, ox: px.off };
        const plan = py.t * px.t > 0 ? this.#planB(phase, g.c) : undefined;
        if (plan === null) return false;
        phases.push({ ry, rx, py, px, phase, plan });
      }
    }
    // a phase that no tap reaches (kernel smaller than the stride) stays zero
    if (phases.some((f) => !f.plan)) this.#host.fill(out, 0);
    for (const { ry, rx, py, px, phase, plan } of phases) {
      if (!plan) continue;
      // tap (m'_y, m'_x) reads w[o, c, k0y + s(t_y − 1 − m'_y), k0x + s(t_x − 1 − m'_x)]
      const base = (py.k0 + s * (py.t - 1)) * g.kw + px.k0 + s * (px.t - 1);
      const wgeo = [py.t * px.t, px.t, base, taps, g.c * taps, -s * g.kw, -s];
      const store = [g.c * g.h * g.w, g.h * g.w, g.w, s, ry, s, rx];
      this.#implicitB(out, { src: dy, w, sh: phase, plan, m: g.c, wgeo, store });
    }
    return true;
  }

  /** dw [O, C, kh, kw] from x and dy; k runs over the output positions (n, i, j). */
  weightGrad(x: Storage, dy: Storage, g: ConvGeometry, out: Storage): boolean {
    const sh = input(g), [wr, hp] = shape(sh), taps = g.kh * g.kw, nt = Math.ceil(g.o / 4);
    const d = this.maxDim, budget = this.maxTexels, perImage = 4 * g.ho * wr;
    const qc = Math.min(
      ...[g.c, Math.floor(d / wr), Math.floor(budget / (g.kw * hp * wr))],
      Math.floor((MAX_GROUPS * 16) / taps), // the product's grid
    );
    const nc = Math.min(
      ...[g.n, Math.floor(d / (g.kw * hp)), Math.floor(budget / (g.kw * hp * qc * wr))],
      ...[Math.floor(d / perImage), Math.floor(budget / (nt * perImage))],
    );
    if (!(qc >= 1 && nc >= 1 && nt <= d)) return false;
    const lanes = CONV_GEMM_LANES;
    const kernel = nt <= lanes ? "convGemmA1" : nt <= 2 * lanes ? "convGemmA2" : "convGemmA";
    for (const [q0, qn] of chunks(g.c, qc)) {
      for (const [n0, nn] of chunks(g.n, nc)) {
        const rows = this.#packRows(x, sh, n0, nn, q0, qn);
        const b = this.#texture("channels", nt, nn * perImage);
        this.#host.dispatch("convPackChannels", [dy, b], (u) => {
          u.set([0, nt, g.o, g.ho, g.wo, wr, g.n, n0]);
        }, [Math.ceil(nt / CONV_PACK_LANES), nn * perImage, 1]);
        this.#product(kernel, rows, b, out, undefined, [
          ...[qn * taps, nt, nn * g.ho * wr, n0 > 0 ? 1 : 0, 0, nt, 4 * nt, g.o, 0, 1, 0, 0, 0],
          ...[g.c * taps, 0, q0 * taps, wr, hp, g.stride, g.kh, g.kw, qn * taps, nn * hp, g.ho],
        ]);
      }
    }
    return true;
  }

  /** Chunk sizes of a product whose B is `sh` and that has m rows; null when none fits. */
  #planB(sh: Shifted, m: number): Plan | null {
    const [wr, hp] = shape(sh), d = this.maxDim, layers = sh.kw * hp * wr;
    const qc = Math.min(
      ...[sh.q, Math.floor(d / wr), Math.floor((4 * d) / (sh.kh * sh.kw))],
      Math.floor(this.maxTexels / layers),
    );
    const nc = Math.min(
      ...[sh.n, Math.floor(d / (sh.kw * hp)), Math.floor(this.maxTexels / (layers * qc))],
      Math.floor(MAX_GROUPS * 4 * CONV_GEMM_LANES / (sh.ho * wr)), // the product's grid
    );
    return qc >= 1 && nc >= 1 ? { mc: Math.min(m, d), qc, nc } : null;
  }

  /** out = W · shifted(src), chunk by chunk. */
  #implicitB(out: Storage, { src, w, sh, plan, m, wgeo, store, bias }: Job): void {
    const [wr, hp] = shape(sh), taps = sh.kh * sh.kw, wq = sh.ho * wr;
    for (const [m0, mn] of chunks(m, plan.mc)) {
      const kernel = mn <= tiles.convGemmBShort[1] ? "convGemmBShort" : "convGemmB";
      for (const [q0, qn] of chunks(sh.q, plan.qc)) {
        const kq = Math.ceil((qn * taps) / 4);
        const a = this.#texture("weights", kq, mn);
        this.#host.dispatch("convPackWeights", [w, a], (u) => {
          u.set([0, kq, qn * taps, q0 * taps, ...wgeo, m0].map((v) => v >>> 0));
        }, [Math.ceil(kq / CONV_PACK_LANES), mn, 1]);
        for (const [n0, nn] of chunks(sh.n, plan.nc)) {
          const rows = this.#packRows(src, sh, n0, nn, q0, qn);
          this.#product(kernel, a, rows, out, bias, [
            ...[mn, nn * wq, kq, q0 > 0 ? 1 : 0, n0 * wq, wq, 4 * wr, sh.wo, ...store, m0],
            ...[wr, hp, sh.s, sh.kh, sh.kw, qn * taps, nn * hp, sh.ho],
          ]);
        }
      }
    }
  }

  /** Shifted rows of images [n0, n0+nn) and channels [q0, q0+qn) of src. */
  #packRows(src: Storage, sh: Shifted, n0: number, nn: number, q0: number, qn: number) {
    const [wr, hp] = shape(sh), width = qn * wr, height = sh.kw * nn * hp;
    const view = this.#texture("rows", width, height);
    const geo = [sh.q, sh.hs, sh.ws, wr, hp, sh.s, sh.oy, sh.ox, sh.n, n0, q0, nn * hp, sh.wo];
    this.#host.dispatch("convPackRows", [src, view], (u) => {
      u.set([0, width, ...geo].map((v) => v >>> 0));
    }, [Math.ceil(width / CONV_PACK_LANES), height, 1]);
    return view;
  }

  /** One product: `params` are CONV_GEMM's [0..23], M and column texels first. */
  #product(
    kernel: keyof typeof tiles,
    a: GPUTextureView,
    b: GPUTextureView,
    out: Storage,
    bias: Storage | undefined,
    params: number[],
  ) {
    const [, rows, cols] = tiles[kernel];
    const resources = [a, b, out, bias ?? this.#host.placeholder()];
    this.#host.dispatch(kernel, resources, (u) => u.set(params.map((v) => v >>> 0)), [
      Math.ceil(params[1] / (CONV_GEMM_LANES * cols)),
      Math.ceil(params[0] / rows),
      1,
    ], { BIAS: bias ? 1 : 0 });
  }

  /**
   * The scratch texture of a role (weights, rows, channels: each keeps a similar shape across
   * layers), grown to hold width × height texels. Dispatches run in order, so a pack cannot
   * overwrite a chunk before the product that reads it has run. Sides are multiples of 64 and
   * never powers of two: llvmpipe compiles a shader variant per texture "static state", which
   * includes whether each side is a power of two, and a product takes ~0.5–3 s to compile
   * (measured: a 12 s stall when a side crossed from 64 to 192).
   */
  #texture(role: string, width: number, height: number): GPUTextureView {
    const have = this.#textures.get(role)?.texture;
    if (have && have.width >= width && have.height >= height) return this.#textures.get(role)!.view;
    let size = [Math.max(width, have?.width ?? 0), Math.max(height, have?.height ?? 0)];
    if (size[0] * size[1] > 2 * this.maxTexels) size = [width, height];
    const limit = this.#host.device.limits.maxTextureDimension2D;
    const side = (v: number) => {
      let k = Math.ceil(v / 64);
      while ((k & (k - 1)) === 0) k++;
      return 64 * k <= limit ? 64 * k : v;
    };
    const texture = this.#host.device.createTexture({
      size: size.map(side),
      format: "rgba32float",
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.STORAGE_BINDING,
    });
    if (have) {
      this.#host.flush(); // recorded work may still use the old texture
      have.destroy();
    }
    this.#textures.set(role, { texture, view: texture.createView() });
    return this.#textures.get(role)!.view;
  }
}

/** [start, count] of consecutive chunks of at most `size` covering [0, total). */
function* chunks(total: number, size: number): Generator<[number, number]> {
  for (let at = 0; at < total; at += size) yield [at, Math.min(size, total - at)];
}

/** The convolution's input as seen by its forward correlation. */
function input(g: ConvGeometry): Shifted {
  const { n, c: q, h: hs, w: ws, ho, wo, kh, kw, stride: s, padding: p } = g;
  return { n, q, hs, ws, ho, wo, kh, kw, s, oy: -p, ox: -p };
}
