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
  type DType,
  MAX_RANK,
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
import { BINARY, binaryCodes, FILL, UNARY, unaryCodes, WHERE } from "./wgsl/elementwise.ts";
import { COPY, REDUCE } from "./wgsl/movement.ts";
import { MATMUL, MATMUL_COLS, MATMUL_LANES, MATMUL_ROWS } from "./wgsl/matmul.ts";
import { ADAM, RANDOM, randomKindCodes } from "./wgsl/random_adam.ts";

class GpuStorage implements Storage {
  readonly dtype = "f32" as const;
  constructor(readonly length: number, readonly buffer: GPUBuffer) {}
}

/** Each kernel's WGSL and the access of its storage bindings (true = read-only). */
const kernels = {
  fill: { code: FILL, readOnly: [false] },
  unary: { code: UNARY, readOnly: [true, false] },
  binary: { code: BINARY, readOnly: [true, true, false] },
  where: { code: WHERE, readOnly: [true, true, true, false] },
  copy: { code: COPY, readOnly: [true, false] },
  reduce: { code: REDUCE, readOnly: [true, false] },
  matmul: { code: MATMUL, readOnly: [true, true, false] },
  random: { code: RANDOM, readOnly: [false] },
  adam: { code: ADAM, readOnly: [false, true, false, false] },
} as const;
type Kernel = keyof typeof kernels;

const SLOT_BYTES = PARAM_SLOTS * 4;
/** Dispatches per submitted batch (the uniform arena holds one slot each). */
const BATCH_DISPATCHES = 1024;
const MAX_GROUPS = 65535;

export class WebGpuBackend implements Backend {
  readonly name = "webgpu";
  readonly device: GPUDevice;
  readonly adapterName: string;
  readonly software: boolean;
  #pool: BufferPool;
  #stagingPool: BufferPool;
  #pipelines = new Map<Kernel, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  #arena: GPUBuffer;
  #arenaHost = new Uint32Array(BATCH_DISPATCHES * PARAM_SLOTS);
  #arenaF32 = new Float32Array(this.#arenaHost.buffer);
  #slot = 0;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #live = 0;
  #stats = { dispatches: 0, pipelines: 0, submits: 0 };
  #lost: string | null = null;
  #errors: string[] = [];

  constructor(gpu: GpuDevice) {
    this.device = gpu.device;
    this.adapterName = gpu.adapterName;
    this.software = gpu.software;
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
      this.#lost = `WebGPU device lost (${info.reason}): ${info.message || "no message"}`;
    });
    this.device.addEventListener("uncapturederror", (e) => {
      this.#errors.push((e as GPUUncapturedErrorEvent).error.message);
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
    const bytes = src.length * 4;
    const staging = this.#stagingPool.take(bytes);
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buf(src), 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    this.#stats.submits++;
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      this.#check();
      throw e;
    }
    const out = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
    staging.unmap();
    this.#stagingPool.release(staging);
    this.#stagingPool.recycle();
    this.#check();
    return out;
  }
  free(s: Storage): void {
    this.#live -= s.length * 4;
    this.#pool.release(buf(s));
  }
  liveBytes(): number {
    return this.#live;
  }
  stats() {
    return { ...this.#stats };
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
    this.#launch1d("unary", [x, out], out.length, (p) => {
      p[0] = out.length;
      p[1] = unaryCodes[op];
    });
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
    this.#launch1d("binary", [a, b, out], n, (p) => {
      p[0] = n;
      p[1] = binaryCodes[op];
      p[2] = shape.length;
      p[3] = denseFlags(shape, [av, bv]);
      p.set(shape, 4);
      p.set(av.strides, 10);
      p.set(bv.strides, 16);
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
      p[3] = denseFlags(shape, [cv, av, bv]);
      p.set(shape, 4);
      p.set(cv.strides, 10);
      p.set(av.strides, 16);
      p.set(bv.strides, 22);
    });
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
  ): void {
    if (batch > MAX_GROUPS) throw new Error(`webgpu matmul: batch ${batch} exceeds ${MAX_GROUPS}`);
    const p = this.#params();
    p.u.set([batch, m, n, k, as[0], as[1], as[2], 0, bs[0], bs[1], bs[2]]);
    this.#dispatch("matmul", [a, b, out], p.offset, [
      Math.ceil(n / (MATMUL_LANES * MATMUL_COLS)),
      Math.ceil(m / MATMUL_ROWS),
      batch,
    ]);
  }
  cast(x: Storage, out: Storage): void {
    // float32 is the only dtype here, so a cast is a copy
    this.copy(x, { offset: 0, strides: [1] }, out, { offset: 0, strides: [1] }, [out.length]);
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
  adam(param: Storage, grad: Storage, m: Storage, v: Storage, a: AdamParams): void {
    this.#launch1d("adam", [param, grad, m, v], param.length, (p, f) => {
      p[0] = param.length;
      f.set([a.lr, a.beta1, a.beta2, a.eps, a.weightDecay, a.bias1, a.bias2], 1);
    });
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
    storages: Storage[],
    n: number,
    fill: (u: Uint32Array, f: Float32Array) => void,
  ) {
    if (n === 0) return;
    const p = this.#params();
    fill(p.u, p.f);
    const groups = Math.ceil(n / WORKGROUP);
    const x = Math.min(groups, MAX_GROUPS);
    this.#dispatch(kernel, storages, p.offset, [x, Math.ceil(groups / x), 1]);
  }

  #dispatch(
    kernel: Kernel,
    storages: Storage[],
    offset: number,
    grid: [number, number, number],
  ): void {
    this.#check();
    const { pipeline, layout } = this.#pipeline(kernel);
    if (!this.#encoder) {
      this.#encoder = this.device.createCommandEncoder();
      this.#pass = this.#encoder.beginComputePass();
    }
    const bindGroup = this.device.createBindGroup({
      layout,
      entries: [
        { binding: 0, resource: { buffer: this.#arena, offset: 0, size: SLOT_BYTES } },
        ...storages.map((s, i) => ({ binding: i + 1, resource: { buffer: buf(s) } })),
      ],
    });
    this.#pass!.setPipeline(pipeline);
    this.#pass!.setBindGroup(0, bindGroup, [offset]);
    this.#pass!.dispatchWorkgroups(...grid);
    this.#stats.dispatches++;
  }

  #pipeline(kernel: Kernel) {
    const hit = this.#pipelines.get(kernel);
    if (hit) return hit;
    const { code, readOnly } = kernels[kernel];
    const layout = this.device.createBindGroupLayout({
      entries: [
        {
          binding: 0,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: "uniform", hasDynamicOffset: true, minBindingSize: SLOT_BYTES },
        },
        ...readOnly.map((ro, i) => ({
          binding: i + 1,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: ro ? "read-only-storage" as const : "storage" as const },
        })),
      ],
    });
    const pipeline = this.device.createComputePipeline({
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: {
        module: this.device.createShaderModule({ code, label: kernel }),
        entryPoint: "main",
      },
    });
    this.#stats.pipelines++;
    const entry = { pipeline, layout };
    this.#pipelines.set(kernel, entry);
    return entry;
  }
}

function buf(s: Storage): GPUBuffer {
  return (s as GpuStorage).buffer;
}

function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
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
