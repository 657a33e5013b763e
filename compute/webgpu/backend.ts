/**
 * The WebGPU backend. Kernels are recorded into one open compute pass and submitted in
 * batches; shapes and scalars go into a uniform arena (one 256-byte slot per dispatch, bound
 * with a dynamic offset), so a handful of pipelines serve every shape and nothing waits
 * until `read()`.
 */

import {
  type AdamParams,
  type Backend,
  type BinaryOp,
  bytesPerElement,
  type ConvGeometry,
  type DType,
  type GroupNormGeometry,
  MAX_RANK,
  MAX_WEIGHTED_TERMS,
  type RandomParams,
  type ReduceOp,
  type Storage,
  type UnaryOp,
  type View,
} from "../backend.ts";
import { contiguousStrides, sameShape } from "../shape.ts";
import type { GpuDevice } from "./device.ts";
import { BufferPool } from "./pool.ts";
import { PARAM_SLOTS, WORKGROUP } from "./wgsl/common.ts";
import {
  BINARY,
  BINARY4,
  binaryCodes,
  FILL,
  UNARY,
  UNARY4,
  unaryCodes,
  VEC4_MODE,
  weightedSumCode,
  WHERE,
} from "./wgsl/elementwise.ts";
import { COPY, REDUCE } from "./wgsl/movement.ts";
import { MATMUL, MATMUL_COLS, MATMUL_LANES, MATMUL_ROWS } from "./wgsl/matmul.ts";
import { ADAM, RANDOM, randomKindCodes } from "./wgsl/random_adam.ts";
import { matmulTextureCode, PACK, TEX_LANES } from "./wgsl/matmul_texture.ts";
import { matmulTiledCode, TILE, TILE_SMALL } from "./wgsl/matmul_tiled.ts";
import { Autotuner, autotunerFromEnv, type Trial } from "./autotune.ts";
import { CHOLESKY, TRIANGULAR_SOLVE } from "./wgsl/linalg.ts";
import { GROUP_NORM, GROUP_NORM_INPUT_GRAD, NORMALIZE_ROWS, ROW_RSTD } from "./wgsl/normalize.ts";
import { CONV2D, CONV2D_INPUT_GRAD, CONV2D_WEIGHT_GRAD } from "./wgsl/conv2d.ts";
import { TextureConv } from "./conv2d_texture.ts";
import { CONV2D_TILED, convTiledDims } from "./wgsl/conv2d_tiled.ts";
import { CONV_TEXTURE_KERNELS } from "./wgsl/conv2d_texture.ts";

/** One product's operands, as `matmul` receives them. */
type MatmulShape = {
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

class GpuStorage implements Storage {
  readonly dtype = "f32" as const;
  constructor(readonly length: number, readonly buffer: GPUBuffer) {}
}

/** How a kernel binds each resource after the uniform slot. */
type Binding = "read" | "write" | "texture" | "storageTexture";

/** Each kernel's WGSL and its bindings. */
const kernels = {
  fill: { code: FILL, bindings: ["write"] },
  unary: { code: UNARY, bindings: ["read", "write"] },
  binary: { code: BINARY, bindings: ["read", "read", "write"] },
  unary4: { code: UNARY4, bindings: ["read", "write"] },
  binary4: { code: BINARY4, bindings: ["read", "read", "write"] },
  ...weightedSumKernels(),
  where: { code: WHERE, bindings: ["read", "read", "read", "write"] },
  copy: { code: COPY, bindings: ["read", "write"] },
  reduce: { code: REDUCE, bindings: ["read", "write"] },
  matmul: { code: MATMUL, bindings: ["read", "read", "write", "read"] },
  pack: { code: PACK, bindings: ["read", "storageTexture"] },
  matmulTexture: { code: matmulTextureCode(4), bindings: ["texture", "texture", "write", "read"] },
  matmulTexture8: { code: matmulTextureCode(8), bindings: ["texture", "texture", "write", "read"] },
  matmulTexture16: {
    code: matmulTextureCode(16),
    bindings: ["texture", "texture", "write", "read"],
  },
  matmulTiled: { code: matmulTiledCode(TILE), bindings: ["read", "read", "write", "read"] },
  matmulTiled32: { code: matmulTiledCode(TILE_SMALL), bindings: ["read", "read", "write", "read"] },
  random: { code: RANDOM, bindings: ["write"] },
  cholesky: { code: CHOLESKY, bindings: ["read", "write"] },
  normalizeRows: { code: NORMALIZE_ROWS, bindings: ["read", "write"] },
  rowRstd: { code: ROW_RSTD, bindings: ["read", "write"] },
  groupNorm: { code: GROUP_NORM, bindings: ["read", "read", "read", "write"] },
  groupNormInputGrad: { code: GROUP_NORM_INPUT_GRAD, bindings: ["read", "read", "read", "write"] },
  conv2d: { code: CONV2D, bindings: ["read", "read", "write", "read"] },
  conv2dInputGrad: { code: CONV2D_INPUT_GRAD, bindings: ["read", "read", "write"] },
  conv2dWeightGrad: { code: CONV2D_WEIGHT_GRAD, bindings: ["read", "read", "write"] },
  conv2dTiled: { code: CONV2D_TILED, bindings: ["read", "read", "write", "read"] },
  ...CONV_TEXTURE_KERNELS,
  triangularSolve: { code: TRIANGULAR_SOLVE, bindings: ["read", "read", "write"] },
  adam: { code: ADAM, bindings: ["write", "read", "write", "write", "read"] },
} as const satisfies Record<string, { code: string; bindings: readonly Binding[] }>;
type Kernel = keyof typeof kernels;
type Resource = Storage | GPUTextureView;

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
/**
 * conv2d maps: `texture` (the lowering of conv2d_texture.ts), `direct` (one thread per output),
 * `tiled` (shared-memory implicit GEMM, wgsl/conv2d_tiled.ts).
 */
export type ConvVariant = "texture" | "direct" | "tiled";
export const CONV_VARIANTS: readonly ConvVariant[] = ["texture", "direct", "tiled"];
/** 0 forward, 1 weight gradient, 2 input gradient (the MODE of wgsl/conv2d_tiled.ts). */
type ConvMode = 0 | 1 | 2;
/** The kernel family of each map, as kernel choices are recorded. */
const CONV_FAMILY = ["conv2d", "conv2d_weight_grad", "conv2d_input_grad"] as const;
const TEXTURE_KERNEL = {
  texture: ["matmulTexture", 4],
  texture8: ["matmulTexture8", 8],
  texture16: ["matmulTexture16", 16],
} as const;

/** Below this many multiply-adds the two packing dispatches cost more than they save. */
const TEXTURE_MATMUL_MIN_MACS = 1 << 15;
/**
 * Batch-invariant mode sizes its choices for this many rows (matmul) or images (conv2d), eval-nll's
 * default --batch, whatever the product's real batch: the choice then depends on the shape class
 * alone.
 */
const NOMINAL_BATCH = 64;

const SLOT_BYTES = PARAM_SLOTS * 4;
/** Dispatches per submitted batch (the uniform arena holds one slot each). */
const BATCH_DISPATCHES = 1024;
const MAX_GROUPS = 65535;
/** Cached bind groups before the cache is dropped (they hold no memory of their own). */
const BIND_GROUP_CACHE = 16384;

export class WebGpuBackend implements Backend {
  readonly name = "webgpu";
  readonly device: GPUDevice;
  readonly adapterName: string;
  readonly software: boolean;
  #pool: BufferPool;
  #stagingPool: BufferPool;
  #pipelines = new Map<
    string,
    { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout; key: string }
  >();
  #bindGroups = new Map<string, GPUBindGroup>();
  #resourceIds = new WeakMap<GPUBuffer | GPUTextureView, number>();
  #nextResourceId = 0;
  #arena: GPUBuffer;
  #arenaHost = new Uint32Array(BATCH_DISPATCHES * PARAM_SLOTS);
  #arenaF32 = new Float32Array(this.#arenaHost.buffer);
  #slot = 0;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #live = 0;
  #stats = { dispatches: 0, pipelines: 0, submits: 0 };
  /** Dispatches per kernel (profiles: which kernels a step is made of). */
  #byKernel = new Map<string, number>();
  #unusedOperand: Storage | null = null;
  #lost: string | null = null;
  #modules = new Map<Kernel, GPUShaderModule>();
  #scratch = new Map<string, { texture: GPUTexture; view: GPUTextureView }>();
  matmulVariant: MatmulVariant;
  /** A conv2d variant forced for every geometry (tests); null lets the default or the tuner pick. */
  convVariant: ConvVariant | null = null;
  /** Per-shape kernel choices (autotune.ts); null runs the defaults. */
  autotune: Autotuner | null;
  /**
   * Evaluation mode: each kernel variant is chosen from the shape without its batch dimension
   * (rows of a product, images of a convolution) and the tuner is neither consulted nor fed,
   * so what an example computes never depends on the examples that share its batch. Matmul
   * variants agree bit for bit anyway (each sums along k in one order); conv2d variants do not.
   */
  batchInvariant = false;
  /** Variants run (batch-invariant mode: chosen) per kernel family since the last clear. */
  #choices = new Map<string, Set<string>>();
  /** conv2d through texture-packed GEMMs, taken with the `texture` matmul variant. */
  readonly convTexture: TextureConv;
  #errors: string[] = [];
  #scopes: Promise<void>[] = [];

  constructor(gpu: GpuDevice) {
    this.device = gpu.device;
    this.adapterName = gpu.adapterName;
    this.software = gpu.software;
    this.matmulVariant = gpu.software ? "texture" : "tiled";
    this.autotune = autotunerFromEnv(`${gpu.adapterName}|deno ${Deno.version.deno}`);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.#pool = new BufferPool(this.device, usage);
    this.#stagingPool = new BufferPool(
      this.device,
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    );
    this.#arena = this.device.createBuffer({
      size: this.#arenaHost.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.device.lost.then((info) => {
      this.#lost ??= `WebGPU device lost (${info.reason}): ${info.message || "no message"}`;
    });
    this.device.addEventListener("uncapturederror", (e) => {
      this.#errors.push((e as GPUUncapturedErrorEvent).error.message);
    });
    this.convTexture = new TextureConv({
      device: this.device,
      dispatch: (kernel, res, fill, grid, constants) => {
        const p = this.#params();
        fill(p.u);
        this.#dispatch(kernel, res, p.offset, grid, constants);
      },
      placeholder: () => this.#placeholder(),
      fill: (out, value) => this.fill(out, value),
      flush: () => this.flush(),
    });
  }

  supports(dtype: DType): boolean {
    return dtype === "f32";
  }

  alloc(length: number, dtype: DType): Storage {
    this.#check();
    if (dtype !== "f32") throw new Error(`webgpu backend stores float32 only, not ${dtype}`);
    const bytes = length * bytesPerElement[dtype];
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new Error(
        `webgpu: a tensor of ${bytes} bytes exceeds this adapter's storage binding limit of ${limit}`,
      );
    }
    this.#live += bytes;
    return new GpuStorage(length, this.#pool.take(bytes));
  }
  write(dst: Storage, data: Float32Array | Float64Array): void {
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    this.device.queue.writeBuffer(buf(dst), 0, f32 as Float32Array<ArrayBuffer>);
  }
  async read(src: Storage): Promise<Float32Array> {
    this.#check();
    this.flush();
    if (this.autotune?.pending) await this.autotune.run();
    const bytes = src.length * 4;
    const staging = this.#stagingPool.take(bytes);
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buf(src), 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    this.#stats.submits++;
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      // A lost device rejects the map; give `device.lost` a moment to say why.
      await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 200))]);
      await this.#settleScopes();
      this.#check();
      throw new Error(`WebGPU read failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    const out = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
    staging.unmap();
    this.#stagingPool.release(staging);
    this.#stagingPool.recycle();
    await this.#settleScopes();
    this.#check();
    return out;
  }

  /** Destroys the device; every later operation fails with a "device lost" error. */
  destroy(): void {
    this.#lost ??= "WebGPU device lost (destroyed): the backend was shut down";
    this.device.destroy();
  }

  free(s: Storage): void {
    this.#live -= s.length * 4;
    this.#pool.release(buf(s));
  }
  liveBytes(): number {
    return this.#live;
  }
  stats() {
    return { ...this.#stats, byKernel: Object.fromEntries(this.#byKernel) };
  }

  flush(): void {
    if (!this.#encoder) return;
    this.#pass!.end();
    this.device.queue.writeBuffer(
      this.#arena,
      0,
      this.#arenaHost.buffer,
      0,
      this.#slot * SLOT_BYTES,
    );
    this.device.queue.submit([this.#encoder.finish()]);
    this.#stats.submits++;
    this.#encoder = null;
    this.#pass = null;
    this.#slot = 0;
    this.#pool.recycle();
  }

  fill(out: Storage, value: number): void {
    this.#launch1d("fill", [out], out.length, (p, f) => {
      p[0] = out.length;
      f[1] = value;
    });
  }
  unary(op: UnaryOp, x: Storage, out: Storage): void {
    // four elements per invocation when they divide evenly (buffers are 16-byte multiples)
    const wide = out.length % 4 === 0, n = wide ? out.length / 4 : out.length;
    this.#launch1d(wide ? "unary4" : "unary", [x, out], n, (p) => {
      p[0] = n;
    }, { OP: unaryCodes[op] });
  }
  binary(
    op: BinaryOp,
    a: Storage,
    av: View,
    b: Storage,
    bv: View,
    shape: number[],
    out: Storage,
  ): void {
    const n = size(shape);
    const fill = (p: Uint32Array, count: number) => {
      p[0] = count;
      p[2] = shape.length;
      p.set(shape, 4);
      p.set(av.strides, 10);
      p.set(bv.strides, 16);
    };
    if (n % 4 === 0 && shape.length > 0) {
      const modes = { MA: vec4Mode(shape, av), MB: vec4Mode(shape, bv) };
      this.#launch1d("binary4", [a, b, out], n / 4, (p) => fill(p, n / 4), {
        OP: binaryCodes[op],
        ...modes,
      });
      return;
    }
    this.#launch1d("binary", [a, b, out], n, (p) => fill(p, n), {
      OP: binaryCodes[op],
      DENSE: denseFlags(shape, [av, bv]),
    });
  }
  weightedSum(terms: Storage[], weights: readonly number[], n: number, out: Storage): void {
    const quads = Math.ceil(n / 4);
    const kernel = `weightedSum${terms.length}` as Kernel;
    this.#launch1d(kernel, [...terms, out], quads, (p, f) => {
      p[0] = quads;
      f.set(weights, 4);
    });
  }
  where(
    c: Storage,
    cv: View,
    a: Storage,
    av: View,
    b: Storage,
    bv: View,
    shape: number[],
    out: Storage,
  ): void {
    const n = size(shape);
    this.#launch1d("where", [c, a, b, out], n, (p) => {
      p[0] = n;
      p[2] = shape.length;
      p.set(shape, 4);
      p.set(cv.strides, 10);
      p.set(av.strides, 16);
      p.set(bv.strides, 22);
    }, { DENSE: denseFlags(shape, [cv, av, bv]) });
  }
  reduce(op: ReduceOp, x: Storage, shape: number[], axes: number[], out: Storage): void {
    const strides = contiguousStrides(shape);
    const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const n = Math.max(1, size(kept.map((i) => shape[i])));
    this.#launch1d("reduce", [x, out], n, (p) => {
      p[0] = n;
      p[1] = op === "sum" ? 0 : 1;
      p[2] = kept.length;
      p[3] = axes.length;
      p.set(kept.map((i) => shape[i]), 4);
      p.set(kept.map((i) => strides[i]), 10);
      p.set(axes.map((i) => shape[i]), 16);
      p.set(axes.map((i) => strides[i]), 22);
      p[28] = size(axes.map((i) => shape[i]));
    });
  }
  copy(src: Storage, sv: View, dst: Storage, dv: View, shape: number[]): void {
    const n = size(shape);
    this.#launch1d("copy", [src, dst], n, (p) => {
      p[0] = n;
      p[2] = shape.length;
      p[3] = sv.offset;
      p.set(shape, 4);
      p.set(sv.strides, 10);
      p.set(dv.strides, 16);
      p[22] = dv.offset;
    });
  }
  matmul(
    a: Storage,
    as: readonly [number, number, number],
    b: Storage,
    bs: readonly [number, number, number],
    batch: number,
    m: number,
    n: number,
    k: number,
    out: Storage,
    bias?: Storage,
  ): void {
    if (batch > MAX_GROUPS) throw new Error(`webgpu matmul: batch ${batch} exceeds ${MAX_GROUPS}`);
    const shape = { a, as, b, bs, batch, m, n, k, out, bias };
    if (this.batchInvariant) {
      const chosen = this.#matmulClassVariant(n, k);
      this.#note("matmul", chosen);
      // a batch too tall for a texture runs on storage buffers: the same bits (see MatmulVariant)
      this.#matmulWith(
        chosen in TEXTURE_KERNEL && !this.#textureFits(batch, m, n, k) ? "storage" : chosen,
        shape,
      );
      return;
    }
    let variant: MatmulVariant = this.#matmulFits(this.matmulVariant, batch, m, n, k)
      ? this.matmulVariant
      : "storage";
    if (this.autotune) {
      const eligible = MATMUL_VARIANTS.filter((v) => this.#matmulFits(v, batch, m, n, k));
      // operand layouts change which loads are contiguous, so they are part of the shape
      const layout = `${as[2] === 1 ? "r" : "c"}${bs[2] === 1 ? "r" : "c"}`;
      const key = `matmul:${batch}x${m}x${n}x${k}:${layout}`;
      const tuned = this.autotune.pick(key, eligible, () => this.#matmulTrial(eligible, shape));
      variant = (tuned as MatmulVariant | undefined) ?? variant;
    }
    this.#note("matmul", variant);
    this.#matmulWith(variant, shape);
  }

  /** Whether a variant can run this product (textures have a largest side; packs cost). */
  #matmulFits(v: MatmulVariant, batch: number, m: number, n: number, k: number): boolean {
    if (!(v in TEXTURE_KERNEL)) return true;
    return m * n * k >= TEXTURE_MATMUL_MIN_MACS && this.#textureFits(batch, m, n, k);
  }

  /** Whether the packed operands fit in textures (A: batch·m rows; B: batch·Kp rows). */
  #textureFits(batch: number, m: number, n: number, k: number): boolean {
    const kp = 4 * Math.ceil(k / 4), maxDim = this.device.limits.maxTextureDimension2D;
    return batch * m <= maxDim && batch * kp <= maxDim && kp / 4 <= maxDim &&
      Math.ceil(n / 4) <= maxDim;
  }

  /**
   * Batch-invariant mode's matmul variant, from the columns and the depth alone: the default
   * variant as it would be chosen for NOMINAL_BATCH rows in one product.
   */
  #matmulClassVariant(n: number, k: number): MatmulVariant {
    return this.#matmulFits(this.matmulVariant, 1, NOMINAL_BATCH, n, k)
      ? this.matmulVariant
      : "storage";
  }

  /** Records that a kernel family ran (or, batch-invariant, chose) a variant. */
  #note(family: string, variant: string): void {
    let set = this.#choices.get(family);
    if (!set) this.#choices.set(family, set = new Set());
    set.add(variant);
  }

  /** The variants noted per kernel family since the last `clearKernelChoices`, sorted. */
  kernelChoices(): Record<string, string[]> {
    return Object.fromEntries(
      [...this.#choices].sort(([a], [b]) => a.localeCompare(b)).map(([f, v]) => [f, [...v].sort()]),
    );
  }
  clearKernelChoices(): void {
    this.#choices.clear();
  }

  #matmulWith(variant: MatmulVariant, s: MatmulShape): void {
    const { a, as, b, bs, batch, m, n, k, out } = s;
    const bias = s.bias ?? this.#placeholder(), BIAS = s.bias ? 1 : 0;
    if (variant === "texture" || variant === "texture8" || variant === "texture16") {
      const [kernel, rows] = TEXTURE_KERNEL[variant];
      const kp = 4 * Math.ceil(k / 4);
      const ta = this.#pack("a", a, as, batch, m, k, m);
      const tb = this.#pack("b", b, bs, batch, k, n, kp);
      const p = this.#params();
      p.u.set([batch, m, n, k, kp]);
      this.#dispatch(kernel, [ta, tb, out, bias], p.offset, [
        Math.ceil(Math.ceil(n / 4) / TEX_LANES),
        Math.ceil(m / rows),
        batch,
      ], { BIAS });
      return;
    }
    const p = this.#params();
    p.u.set([batch, m, n, k, as[0], as[1], as[2], 0, bs[0], bs[1], bs[2]]);
    const tile = variant === "tiled" ? TILE : variant === "tiled32" ? TILE_SMALL : 0;
    const grid: [number, number, number] = tile
      ? [Math.ceil(n / tile), Math.ceil(m / tile), batch]
      : [Math.ceil(n / (MATMUL_LANES * MATMUL_COLS)), Math.ceil(m / MATMUL_ROWS), batch];
    const kernel = tile === TILE ? "matmulTiled" : tile ? "matmulTiled32" : "matmul";
    this.#dispatch(kernel, [a, b, out, bias], p.offset, grid, { BIAS });
  }

  /** A four-float buffer bound where a kernel's optional operand is absent (never read). */
  #placeholder(): Storage {
    return this.#unusedOperand ??= this.alloc(4, "f32");
  }

  /** Times each eligible variant on scratch operands of this product's shape and layout. */
  #matmulTrial(candidates: MatmulVariant[], s: MatmulShape): Trial {
    const { as, bs, batch, m, n, k } = s;
    // same layouts as the real operands: row- or column-major within each matrix
    const as2: [number, number, number] = as[2] === 1 ? [m * k, k, 1] : [m * k, 1, m];
    const bs2: [number, number, number] = bs[2] === 1 ? [k * n, n, 1] : [k * n, 1, k];
    return this.#trial(
      candidates,
      [batch * m * k, batch * k * n, batch * m * n],
      (c, [a, b, out]) =>
        this.#matmulWith(c as MatmulVariant, { a, as: as2, b, bs: bs2, batch, m, n, k, out }),
    );
  }

  /**
   * A trial whose run of a candidate records `run` on fresh scratch buffers of `sizes` and waits
   * for the queue: the time of that candidate alone, since everything before was flushed.
   */
  #trial(
    candidates: readonly string[],
    sizes: number[],
    run: (candidate: string, scratch: Storage[]) => void,
  ): Trial {
    return {
      candidates,
      time: async (c: string) => {
        const scratch = sizes.map((n) => this.alloc(n, "f32"));
        const t0 = performance.now();
        run(c, scratch);
        this.flush();
        await this.device.queue.onSubmittedWorkDone();
        const ms = performance.now() - t0;
        for (const x of scratch) this.free(x);
        return ms;
      },
    };
  }

  cast(x: Storage, out: Storage): void {
    // float32 is the only dtype here, so a cast is a copy
    this.copy(x, { offset: 0, strides: [1] }, out, { offset: 0, strides: [1] }, [out.length]);
  }
  // The three maps share one chooser: the texture lowering (CPU adapters), the direct kernels
  // (one thread per output: small convolutions) or shared-memory implicit GEMMs (real GPUs).
  conv2d(x: Storage, w: Storage, g: ConvGeometry, out: Storage, bias?: Storage): void {
    this.#convChoose(0, x, w, g, out, bias);
  }
  conv2dInputGrad(dy: Storage, w: Storage, g: ConvGeometry, out: Storage): void {
    this.#convChoose(2, dy, w, g, out);
  }
  conv2dWeightGrad(x: Storage, dy: Storage, g: ConvGeometry, out: Storage): void {
    this.#convChoose(1, x, dy, g, out);
  }
  /**
   * The default (`convVariant` when set), or the tuned choice for this map and geometry;
   * batch-invariant, the default for NOMINAL_BATCH images of this geometry, never tuned.
   */
  #convChoose(
    mode: ConvMode,
    a: Storage,
    b: Storage,
    g: ConvGeometry,
    out: Storage,
    bias?: Storage,
  ): void {
    if (this.batchInvariant) {
      const v = this.convVariant ?? this.#convDefault({ ...g, n: NOMINAL_BATCH });
      this.#note(CONV_FAMILY[mode], this.#convWith(v, mode, a, b, g, out, bias));
      return;
    }
    const texture = this.convTexture.applies(g);
    let variant: ConvVariant = this.convVariant ?? this.#convDefault(g);
    if (this.autotune && this.convVariant === null) {
      const key =
        `conv${mode}:${g.n}x${g.c}x${g.h}x${g.w}:${g.o}x${g.kh}x${g.kw}:s${g.stride}p${g.padding}`;
      const eligible = CONV_VARIANTS.filter((v) => v !== "texture" || texture);
      const tuned = this.autotune.pick(key, eligible, () => this.#convTrial(eligible, mode, g));
      variant = (tuned as ConvVariant | undefined) ?? variant;
    }
    this.#note(CONV_FAMILY[mode], this.#convWith(variant, mode, a, b, g, out, bias));
  }
  /** The untuned variant: the texture lowering where it pays on CPU adapters, else by adapter. */
  #convDefault(g: ConvGeometry): ConvVariant {
    return this.convTexture.applies(g) && this.matmulVariant.startsWith("texture")
      ? "texture"
      : this.software
      ? "direct"
      : "tiled";
  }
  /**
   * One map in one variant; `bias` (forward only) is added as the output is stored. Returns the
   * variant that ran: `direct` where the texture lowering finds no chunk that fits (a limit of
   * the geometry without its batch).
   */
  #convWith(
    v: ConvVariant,
    mode: ConvMode,
    a: Storage,
    b: Storage,
    g: ConvGeometry,
    out: Storage,
    bias?: Storage,
  ): ConvVariant {
    const withBias = { BIAS: bias ? 1 : 0 }, biasOrPlaceholder = bias ?? this.#placeholder();
    if (v === "texture") {
      const t = this.convTexture;
      const done = mode === 0
        ? t.forward(a, b, g, out, bias)
        : mode === 1
        ? t.weightGrad(a, b, g, out)
        : t.inputGrad(a, b, g, out);
      if (done) return v;
    }
    if (v === "tiled") {
      const [m, n] = convTiledDims(mode, g), p = this.#params();
      p.u.set([0, g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.stride, g.padding, g.ho, g.wo]);
      const gx = Math.ceil(n / TILE);
      this.#dispatch("conv2dTiled", [a, b, out, biasOrPlaceholder], p.offset, [
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
    if (mode === 0) this.#conv(kernel, [a, b, out, biasOrPlaceholder], g, count, withBias);
    else this.#conv(kernel, [a, b, out], g, count);
    return "direct";
  }
  /** Times each eligible variant of one map on scratch operands of its geometry. */
  #convTrial(candidates: ConvVariant[], mode: ConvMode, g: ConvGeometry): Trial {
    const x = g.n * g.c * g.h * g.w, w = g.o * g.c * g.kh * g.kw, dy = g.n * g.o * g.ho * g.wo;
    const sizes = mode === 0 ? [x, w, dy] : mode === 1 ? [x, dy, w] : [dy, w, x];
    return this.#trial(
      candidates,
      sizes,
      (c, [a, b, out]) => this.#convWith(c as ConvVariant, mode, a, b, g, out),
    );
  }

  #conv(
    kernel: Kernel,
    storages: Storage[],
    g: ConvGeometry,
    count: number,
    constants?: Record<string, number>,
  ): void {
    this.#launch1d(kernel, storages, count, (p) => {
      p.set([count, g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.stride, g.padding, g.ho, g.wo]);
    }, constants);
  }
  normalizeRows(x: Storage, rows: number, cols: number, eps: number, out: Storage): void {
    this.#perRow("normalizeRows", [x, out], rows, cols, eps);
  }
  rowRstd(x: Storage, rows: number, cols: number, eps: number, out: Storage): void {
    this.#perRow("rowRstd", [x, out], rows, cols, eps);
  }
  groupNorm(
    x: Storage,
    gamma: Storage,
    beta: Storage,
    g: GroupNormGeometry,
    out: Storage,
  ): void {
    this.#perGroup("groupNorm", [x, gamma, beta, out], g);
  }
  groupNormInputGrad(
    x: Storage,
    gamma: Storage,
    dy: Storage,
    g: GroupNormGeometry,
    out: Storage,
  ): void {
    this.#perGroup("groupNormInputGrad", [x, gamma, dy, out], g);
  }
  /** A group-norm kernel: one workgroup per (example, group) row of the grouped layout. */
  #perGroup(kernel: Kernel, storages: Storage[], g: GroupNormGeometry): void {
    const cols = (g.channels / g.groups) * g.spatial;
    this.#perRow(kernel, storages, g.n * g.groups, cols, g.eps, [g.groups, g.spatial]);
  }
  /** One workgroup per row (wgsl/normalize.ts), rows spread over x and y. */
  #perRow(
    kernel: Kernel,
    storages: Storage[],
    rows: number,
    cols: number,
    eps: number,
    extra: number[] = [],
  ): void {
    if (rows === 0) return;
    const p = this.#params();
    p.u[0] = rows;
    p.u[1] = cols;
    p.f[2] = eps;
    p.u.set(extra, 3);
    const x = Math.min(rows, MAX_GROUPS);
    this.#dispatch(kernel, storages, p.offset, [x, Math.ceil(rows / x), 1]);
  }
  cholesky(a: Storage, batch: number, r: number, out: Storage): void {
    this.#launch1d("cholesky", [a, out], batch, (p) => {
      p[0] = batch;
      p[1] = r;
    });
  }
  triangularSolve(
    l: Storage,
    b: Storage,
    batch: number,
    r: number,
    m: number,
    transpose: boolean,
    out: Storage,
  ): void {
    this.#launch1d("triangularSolve", [l, b, out], batch * m, (p) => {
      p.set([batch * m, r, m, transpose ? 1 : 0]);
    });
  }
  random(r: RandomParams, out: Storage): void {
    this.#launch1d("random", [out], out.length, (p, f) => {
      p[0] = out.length;
      p[1] = randomKindCodes[r.kind];
      p[2] = r.key[0];
      p[3] = r.key[1];
      p[4] = r.counter % 4294967296;
      p[5] = Math.floor(r.counter / 4294967296);
      f[6] = r.bound;
    });
  }
  adam(param: Storage, grad: Storage, m: Storage, v: Storage, gate: Storage, a: AdamParams): void {
    this.#launch1d("adam", [param, grad, m, v, gate], param.length, (p, f) => {
      p[0] = param.length;
      f.set([a.lr, a.beta1, a.beta2, a.eps, a.weightDecay, a.bias1, a.bias2], 1);
    });
  }

  /**
   * Packs the strided matrices X[p] (rows × cols) into a scratch texture along cols, rows padded
   * to `paddedRows`. Scratch textures are reused: dispatches in one queue run in order, so the
   * next pack cannot overwrite a texture before the product that reads it has run.
   */
  #pack(
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
      const texture = this.device.createTexture({
        size: [width, height],
        format: "rgba32float",
        usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.STORAGE_BINDING,
      });
      entry = { texture, view: texture.createView() };
      this.#scratch.set(key, entry);
    }
    this.#launch1d("pack", [x, entry.view], width * height, (p) => {
      p.set([width * height, rows, cols, paddedRows, width, strides[0], strides[1], strides[2]]);
    });
    return entry.view;
  }

  async #settleScopes(): Promise<void> {
    const pending = this.#scopes.splice(0);
    await Promise.all(pending);
  }

  /** Throws the reason once the device is lost or a validation error was reported. */
  #check(): void {
    if (this.#lost) throw new Error(this.#lost);
    if (this.#errors.length > 0) {
      const msg = this.#errors.splice(0).join("; ");
      throw new Error(`WebGPU error: ${msg}`);
    }
  }

  #params(): { u: Uint32Array; f: Float32Array; offset: number } {
    if (this.#slot === BATCH_DISPATCHES) this.flush();
    const at = this.#slot * PARAM_SLOTS;
    const u = this.#arenaHost.subarray(at, at + PARAM_SLOTS);
    u.fill(0);
    return {
      u,
      f: this.#arenaF32.subarray(at, at + PARAM_SLOTS),
      offset: this.#slot++ * SLOT_BYTES,
    };
  }

  #launch1d(
    kernel: Kernel,
    storages: Resource[],
    n: number,
    fill: (u: Uint32Array, f: Float32Array) => void,
    constants?: Record<string, number>,
  ) {
    if (n === 0) return;
    const p = this.#params();
    fill(p.u, p.f);
    const groups = Math.ceil(n / WORKGROUP);
    const x = Math.min(groups, MAX_GROUPS);
    this.#dispatch(kernel, storages, p.offset, [x, Math.ceil(groups / x), 1], constants);
  }

  #dispatch(
    kernel: Kernel,
    storages: Resource[],
    offset: number,
    grid: [number, number, number],
    constants?: Record<string, number>,
  ): void {
    this.#check();
    const { pipeline, layout, key } = this.#pipeline(kernel, constants);
    if (!this.#encoder) {
      this.#encoder = this.device.createCommandEncoder();
      this.#pass = this.#encoder.beginComputePass();
    }
    const bindGroup = this.#bindGroup(key, layout, storages);
    this.#pass!.setPipeline(pipeline);
    this.#pass!.setBindGroup(0, bindGroup, [offset]);
    this.#pass!.dispatchWorkgroups(...grid);
    this.#stats.dispatches++;
    this.#byKernel.set(kernel, (this.#byKernel.get(kernel) ?? 0) + 1);
  }

  /**
   * Bind groups are cached by pipeline and resources: pooled buffers come back with the same
   * identity step after step, so a training loop records mostly cache hits.
   */
  #bindGroup(pipelineKey: string, layout: GPUBindGroupLayout, resources: Resource[]): GPUBindGroup {
    const handles = resources.map((
      r,
    ) => (r instanceof GpuStorage ? r.buffer : r as GPUTextureView));
    let key = pipelineKey;
    for (const h of handles) {
      let id = this.#resourceIds.get(h);
      if (id === undefined) this.#resourceIds.set(h, id = this.#nextResourceId++);
      key += `,${id}`;
    }
    const hit = this.#bindGroups.get(key);
    if (hit) return hit;
    if (this.#bindGroups.size >= BIND_GROUP_CACHE) this.#bindGroups.clear();
    const group = this.device.createBindGroup({
      layout,
      entries: [
        { binding: 0, resource: { buffer: this.#arena, offset: 0, size: SLOT_BYTES } },
        ...handles.map((h, i) => ({
          binding: i + 1,
          resource: h instanceof GPUBuffer ? { buffer: h } : h,
        })),
      ],
    });
    this.#bindGroups.set(key, group);
    return group;
  }

  #module(kernel: Kernel, code: string): GPUShaderModule {
    let module = this.#modules.get(kernel);
    if (!module) {
      this.#modules.set(kernel, module = this.device.createShaderModule({ code, label: kernel }));
    }
    return module;
  }

  /** One pipeline per kernel and set of specialisation constants, compiled on first use. */
  #pipeline(kernel: Kernel, constants?: Record<string, number>) {
    const key = constants ? `${kernel}:${JSON.stringify(constants)}` : kernel;
    const hit = this.#pipelines.get(key);
    if (hit) return hit;
    const { code, bindings } = kernels[kernel];
    const layout = this.device.createBindGroupLayout({
      entries: [
        {
          binding: 0,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: "uniform", hasDynamicOffset: true, minBindingSize: SLOT_BYTES },
        },
        ...bindings.map((kind: Binding, i) => ({
          binding: i + 1,
          visibility: GPUShaderStage.COMPUTE,
          ...layoutOf(kind),
        })),
      ],
    });
    const pipeline = this.device.createComputePipeline({
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: {
        module: this.#module(kernel, code),
        entryPoint: "main",
        ...(constants ? { constants } : {}),
      },
    });
    this.#stats.pipelines++;
    const entry = { pipeline, layout, key };
    this.#pipelines.set(key, entry);
    return entry;
  }
}

function layoutOf(kind: Binding): Omit<GPUBindGroupLayoutEntry, "binding" | "visibility"> {
  switch (kind) {
    case "read":
      return { buffer: { type: "read-only-storage" } };
    case "write":
      return { buffer: { type: "storage" } };
    case "texture":
      return { texture: { sampleType: "unfilterable-float" } };
    case "storageTexture":
      return { storageTexture: { access: "write-only", format: "rgba32float" } };
  }
}

function buf(s: Storage): GPUBuffer {
  return (s as GpuStorage).buffer;
}

function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** How the four-wide binary kernel reads a view of `shape` (wgsl/elementwise.ts, BINARY4). */
function vec4Mode(shape: number[], v: View): number {
  if (denseFlags(shape, [v]) === 1) return VEC4_MODE.dense;
  if (v.offset === 0 && v.strides.every((s, i) => s === 0 || shape[i] === 1)) {
    return VEC4_MODE.scalar;
  }
  const last = shape.length - 1;
  if (v.offset === 0 && (v.strides[last] === 0 || shape[last] === 1) && shape[last] % 4 === 0) {
    return VEC4_MODE.splat;
  }
  if (
    v.offset === 0 && v.strides[last] === 1 && shape[last] % 4 === 0 &&
    v.strides.every((s, i) => i === last || s % 4 === 0)
  ) {
    return VEC4_MODE.row;
  }
  return VEC4_MODE.gather;
}

/** Bit k set when view k reads the flat index directly (contiguous, unbroadcast). */
function denseFlags(shape: number[], views: View[]): number {
  if (shape.length > MAX_RANK) throw new Error(`rank ${shape.length} exceeds ${MAX_RANK}`);
  const dense = contiguousStrides(shape);
  return views.reduce(
    (flags, v, k) => (v.offset === 0 && sameShape(v.strides, dense) ? flags | (1 << k) : flags),
    0,
  );
}

/** weightedSum1 … weightedSum7: one kernel per term count (each term a binding). */
function weightedSumKernels() {
  const table: Record<string, { code: string; bindings: Binding[] }> = {};
  for (let k = 1; k <= MAX_WEIGHTED_TERMS; k++) {
    table[`weightedSum${k}`] = {
      code: weightedSumCode(k),
      bindings: [...Array(k).fill("read"), "write"],
    };
  }
  return table as Record<
    `weightedSum${1 | 2 | 3 | 4 | 5 | 6 | 7}`,
    { code: string; bindings: Binding[] }
  >;
}
