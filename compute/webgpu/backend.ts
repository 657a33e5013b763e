/**
 * The WebGPU backend. Kernels are recorded into one open compute pass and submitted in batches
 * (dispatcher.ts); the matmul and conv2d schedules choose each product's and convolution's
 * kernels (matmul_schedule.ts, conv_schedule.ts); the registry of kernels is kernels.ts.
 */

import type {
  AdamParams,
  Backend,
  BinaryOp,
  ConvGeometry,
  DType,
  GroupNormGeometry,
  RandomParams,
  ReduceOp,
  Storage,
  UnaryOp,
  View,
} from "../backend.ts";
import { contiguousStrides, sizeOf } from "../shape.ts";
import type { GpuDevice } from "./device.ts";
import { type Autotuner, autotunerFromEnv } from "./autotune.ts";
import { bufferOf, Dispatcher, MAX_GROUPS } from "./dispatcher.ts";
import * as elementwise from "./elementwise_launch.ts";
import type { Kernel } from "./kernels.ts";
import { MatmulSchedule, type MatmulVariant } from "./matmul_schedule.ts";
import { ConvSchedule, type ConvVariant } from "./conv_schedule.ts";
import { KernelChoices, type ScheduleSettings } from "./schedule.ts";
import { TexturePacker } from "./texture_pack.ts";
import type { TextureConv } from "./conv2d_texture.ts";
import { randomKindCodes } from "./wgsl/random_adam.ts";

export { MATMUL_VARIANTS, type MatmulVariant } from "./matmul_schedule.ts";
export { CONV_VARIANTS, type ConvVariant } from "./conv_schedule.ts";

export class WebGpuBackend implements Backend, ScheduleSettings {
  readonly name = "webgpu";
  readonly device: GPUDevice;
  readonly adapterName: string;
  readonly software: boolean;
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
  /** conv2d through texture-packed GEMMs, taken with the `texture` matmul variant. */
  readonly convTexture: TextureConv;
  #d: Dispatcher;
  #choices = new KernelChoices();
  #matmul: MatmulSchedule;
  #conv: ConvSchedule;

  constructor(gpu: GpuDevice) {
    this.device = gpu.device;
    this.adapterName = gpu.adapterName;
    this.software = gpu.software;
    this.matmulVariant = gpu.software ? "texture" : "tiled";
    this.autotune = autotunerFromEnv(`${gpu.adapterName}|deno ${Deno.version.deno}`);
    this.#d = new Dispatcher(this.device);
    const packer = new TexturePacker(this.#d);
    this.#matmul = new MatmulSchedule(this.#d, this, this.#choices, packer);
    this.#conv = new ConvSchedule(this.#d, this, this.#choices);
    this.convTexture = this.#conv.texture;
  }

  supports(dtype: DType): boolean {
    return dtype === "f32";
  }

  alloc(length: number, dtype: DType): Storage {
    return this.#d.alloc(length, dtype);
  }
  write(dst: Storage, data: Float32Array | Float64Array): void {
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    this.device.queue.writeBuffer(bufferOf(dst), 0, f32 as Float32Array<ArrayBuffer>);
  }
  async read(src: Storage): Promise<Float32Array> {
    this.#d.check();
    this.#d.flush();
    if (this.autotune?.pending) await this.autotune.run();
    return await this.#d.readBack(src);
  }

  /** Destroys the device; every later operation fails with a "device lost" error. */
  destroy(): void {
    this.#d.destroy();
  }

  free(s: Storage): void {
    this.#d.free(s);
  }
  liveBytes(): number {
    return this.#d.liveBytes();
  }
  stats() {
    return this.#d.stats();
  }
  flush(): void {
    this.#d.flush();
  }

  /** The variants run (batch-invariant: chosen) per kernel family since the last clear, sorted. */
  kernelChoices(): Record<string, string[]> {
    return this.#choices.list();
  }
  clearKernelChoices(): void {
    this.#choices.clear();
  }

  fill(out: Storage, value: number): void {
    elementwise.fill(this.#d, out, value);
  }
  unary(op: UnaryOp, x: Storage, out: Storage): void {
    elementwise.unary(this.#d, op, x, out);
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
    elementwise.binary(this.#d, op, a, av, b, bv, shape, out);
  }
  weightedSum(terms: Storage[], weights: readonly number[], n: number, out: Storage): void {
    elementwise.weightedSum(this.#d, terms, weights, n, out);
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
    elementwise.where(this.#d, c, cv, a, av, b, bv, shape, out);
  }
  reduce(op: ReduceOp, x: Storage, shape: number[], axes: number[], out: Storage): void {
    const strides = contiguousStrides(shape);
    const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const n = Math.max(1, sizeOf(kept.map((i) => shape[i])));
    this.#d.launch1d("reduce", [x, out], n, (p) => {
      p[0] = n;
      p[1] = op === "sum" ? 0 : 1;
      p[2] = kept.length;
      p[3] = axes.length;
      p.set(kept.map((i) => shape[i]), 4);
      p.set(kept.map((i) => strides[i]), 10);
      p.set(axes.map((i) => shape[i]), 16);
      p.set(axes.map((i) => strides[i]), 22);
      p[28] = sizeOf(axes.map((i) => shape[i]));
    });
  }
  copy(src: Storage, sv: View, dst: Storage, dv: View, shape: number[]): void {
    const n = sizeOf(shape);
    this.#d.launch1d("copy", [src, dst], n, (p) => {
      p[0] = n;
      p[2] = shape.length;
      p[3] = sv.offset;
      p.set(shape, 4);
      p.set(sv.strides, 10);
      p.set(dv.strides, 16);
      p[22] = dv.offset;
    });
  }
  cast(x: Storage, out: Storage): void {
    // float32 is the only dtype here, so a cast is a copy
    this.copy(x, { offset: 0, strides: [1] }, out, { offset: 0, strides: [1] }, [out.length]);
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
    this.#matmul.run({ a, as, b, bs, batch, m, n, k, out, bias });
  }
  conv2d(x: Storage, w: Storage, g: ConvGeometry, out: Storage, bias?: Storage): void {
    this.#conv.run(0, x, w, g, out, bias);
  }
  conv2dInputGrad(dy: Storage, w: Storage, g: ConvGeometry, out: Storage): void {
    this.#conv.run(2, dy, w, g, out);
  }
  conv2dWeightGrad(x: Storage, dy: Storage, g: ConvGeometry, out: Storage): void {
    this.#conv.run(1, x, dy, g, out);
  }
  normalizeRows(x: Storage, rows: number, cols: number, eps: number, out: Storage): void {
    this.#perRow("normalizeRows", [x, out], rows, cols, eps);
  }
  rowRstd(x: Storage, rows: number, cols: number, eps: number, out: Storage): void {
    this.#perRow("rowRstd", [x, out], rows, cols, eps);
  }
  groupNorm(x: Storage, gamma: Storage, beta: Storage, g: GroupNormGeometry, out: Storage): void {
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
    const p = this.#d.params();
    p.u[0] = rows;
    p.u[1] = cols;
    p.f[2] = eps;
    p.u.set(extra, 3);
    const x = Math.min(rows, MAX_GROUPS);
    this.#d.dispatch(kernel, storages, p.offset, [x, Math.ceil(rows / x), 1]);
  }
  cholesky(a: Storage, batch: number, r: number, out: Storage): void {
    this.#d.launch1d("cholesky", [a, out], batch, (p) => {
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
    this.#d.launch1d("triangularSolve", [l, b, out], batch * m, (p) => {
      p.set([batch * m, r, m, transpose ? 1 : 0]);
    });
  }
  random(r: RandomParams, out: Storage): void {
    this.#d.launch1d("random", [out], out.length, (p, f) => {
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
    this.#d.launch1d("adam", [param, grad, m, v, gate], param.length, (p, f) => {
      p[0] = param.length;
      f.set([a.lr, a.beta1, a.beta2, a.eps, a.weightDecay, a.bias1, a.bias2], 1);
    });
  }
}
