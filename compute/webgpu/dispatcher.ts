/**
 * Recording kernels. Dispatches go into one open compute pass, submitted in batches; each one's
 * shapes and scalars go into its 256-byte slot of a uniform arena (bound with a dynamic offset),
 * so a handful of pipelines serve every shape and nothing waits until a readback. Shader
 * modules, pipelines (one per set of specialisation constants) and bind groups are cached.
 * Storage memory lives here too: a submit is what lets a freed buffer be handed out again.
 */

import { bytesPerElement, type DType, type Storage } from "../backend.ts";
import { BufferPool } from "./pool.ts";
import { PARAM_SLOTS, WORKGROUP } from "./wgsl/common.ts";
import { type Binding, type Kernel, KERNELS, layoutOf } from "./kernels.ts";

/** Workgroups per grid dimension. */
export const MAX_GROUPS = 65535;
const SLOT_BYTES = PARAM_SLOTS * 4;
/** Dispatches per submitted batch (the uniform arena holds one slot each). */
const BATCH_DISPATCHES = 1024;
/** Cached bind groups before the cache is dropped (they hold no memory of their own). */
const BIND_GROUP_CACHE = 16384;

class GpuStorage implements Storage {
  readonly dtype = "f32" as const;
  constructor(readonly length: number, readonly buffer: GPUBuffer) {}
}

export function bufferOf(s: Storage): GPUBuffer {
  return (s as GpuStorage).buffer;
}

/** What a kernel binds after its uniform slot: storage buffers or texture views. */
export type Resource = Storage | GPUTextureView;

/** One dispatch's parameter slot, as u32 and f32, and its byte offset in the arena. */
export interface ParamSlot {
  u: Uint32Array;
  f: Float32Array;
  offset: number;
}

export class Dispatcher {
  readonly device: GPUDevice;
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
  #errors: string[] = [];

  constructor(device: GPUDevice) {
    this.device = device;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.#pool = new BufferPool(device, usage);
    this.#stagingPool = new BufferPool(device, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    this.#arena = device.createBuffer({
      size: this.#arenaHost.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.lost.then((info) => {
      this.#lost ??= `WebGPU device lost (${info.reason}): ${info.message || "no message"}`;
    });
    device.addEventListener("uncapturederror", (e) => {
      this.#errors.push((e as GPUUncapturedErrorEvent).error.message);
    });
  }

  alloc(length: number, dtype: DType): Storage {
    this.check();
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
  free(s: Storage): void {
    this.#live -= s.length * 4;
    this.#pool.release(bufferOf(s));
  }
  liveBytes(): number {
    return this.#live;
  }

  /** Copies `src` to the host; recorded work must have been flushed. */
  async readBack(src: Storage): Promise<Float32Array> {
    const bytes = src.length * 4;
    const staging = this.#stagingPool.take(bytes);
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(bufferOf(src), 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    this.#stats.submits++;
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      // A lost device rejects the map; give `device.lost` a moment to say why.
      await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 200))]);
      this.check();
      throw new Error(`WebGPU read failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    const out = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
    staging.unmap();
    this.#stagingPool.release(staging);
    this.#stagingPool.recycle();
    this.check();
    return out;
  }

  /** Destroys the device; every later operation fails with a "device lost" error. */
  destroy(): void {
    this.#lost ??= "WebGPU device lost (destroyed): the backend was shut down";
    this.device.destroy();
  }

  stats() {
    return { ...this.#stats, byKernel: Object.fromEntries(this.#byKernel) };
  }

  /** Submits the recorded dispatches with their parameter slots; freed buffers become reusable. */
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

  /** Throws the reason once the device is lost or a validation error was reported. */
  check(): void {
    if (this.#lost) throw new Error(this.#lost);
    if (this.#errors.length > 0) {
      const msg = this.#errors.splice(0).join("; ");
      throw new Error(`WebGPU error: ${msg}`);
    }
  }

  /** The next dispatch's parameter slot, zeroed (a full arena is submitted first). */
  params(): ParamSlot {
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

  /** A 1-D kernel over n threads (wgsl/common.ts), workgroups spread over x and y. */
  launch1d(
    kernel: Kernel,
    storages: Resource[],
    n: number,
    fill: (u: Uint32Array, f: Float32Array) => void,
    constants?: Record<string, number>,
  ): void {
    if (n === 0) return;
    const p = this.params();
    fill(p.u, p.f);
    const groups = Math.ceil(n / WORKGROUP);
    const x = Math.min(groups, MAX_GROUPS);
    this.dispatch(kernel, storages, p.offset, [x, Math.ceil(groups / x), 1], constants);
  }

  /** Records one dispatch whose parameters are in the slot at `offset`. */
  dispatch(
    kernel: Kernel,
    storages: Resource[],
    offset: number,
    grid: [number, number, number],
    constants?: Record<string, number>,
  ): void {
    this.check();
    const { pipeline, layout, key } = this.pipeline(kernel, constants);
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

  /** A four-float buffer bound where a kernel's optional operand is absent (never read). */
  placeholder(): Storage {
    return this.#unusedOperand ??= this.alloc(4, "f32");
  }

  /** One pipeline per kernel and set of specialisation constants, compiled on first use. */
  pipeline(kernel: Kernel, constants?: Record<string, number>) {
    const key = constants ? `${kernel}:${JSON.stringify(constants)}` : kernel;
    const hit = this.#pipelines.get(key);
    if (hit) return hit;
    const { code, bindings } = KERNELS[kernel];
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

  /**
   * Bind groups are cached by pipeline and resources: pooled buffers come back with the same
   * identity step after step, so a training loop records mostly cache hits.
   */
  #bindGroup(pipelineKey: string, layout: GPUBindGroupLayout, resources: Resource[]): GPUBindGroup {
    const handles = resources.map((r) => r instanceof GpuStorage ? r.buffer : r as GPUTextureView);
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
}
