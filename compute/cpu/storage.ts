/**
 * The cpu backend's storages and the size-bucketed pool behind them. A training step allocates
 * and frees the same sizes every time, so after the first step every allocation is a pool hit and
 * no typed array is created (or zero-filled) per op. Like the WebGPU pool, a storage comes back
 * with whatever values its last owner left: every kernel writes all of its output.
 */

import type { Storage } from "../backend.ts";

const MIN_ELEMENTS = 64;

/**
 * Idle floats the pool keeps at least room for (256 MiB). Beyond it, the pool keeps no more than
 * the most that was ever live at once, so a step's whole working set (a training step at batch 64
 * frees over 1 GiB at its end) comes back the next step, yet memory stays within twice the peak
 * the process needed anyway; freed arrays beyond that go to the garbage collector.
 */
const MIN_POOL_CAP = 1 << 26;

/** Size classes of four steps per octave: at most 25% of an array is slack. */
export function bucketElements(length: number): number {
  if (length <= MIN_ELEMENTS) return MIN_ELEMENTS;
  const octave = 2 ** Math.floor(Math.log2(length));
  const step = octave / 4;
  return Math.ceil(length / step) * step;
}

export class CpuStorage implements Storage {
  readonly dtype = "f32";
  /** Cleared by `free`, so that a second free is caught before it hands one array out twice. */
  live = true;
  /** The first `length` floats of `whole`, the pooled array. */
  readonly data: Float32Array;

  constructor(readonly length: number, readonly whole: Float32Array) {
    this.data = whole.subarray(0, length);
  }
}

export class BufferPool {
  #free = new Map<number, Float32Array[]>();
  #pooled = 0;
  /** Floats of the arrays handed out and not yet released, and the most there ever were. */
  #out = 0;
  #peak = 0;

  take(length: number): CpuStorage {
    const size = bucketElements(length);
    const hit = this.#free.get(size)?.pop();
    if (hit) this.#pooled -= size;
    this.#out += size;
    this.#peak = Math.max(this.#peak, this.#out);
    return new CpuStorage(length, hit ?? new Float32Array(size));
  }

  release(s: CpuStorage): void {
    if (!s.live) throw new Error("cpu backend: a storage was freed twice");
    s.live = false;
    const size = s.whole.length;
    this.#out -= size;
    if (this.#pooled + size > Math.max(MIN_POOL_CAP, this.#peak)) return;
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, list = []);
    list.push(s.whole);
    this.#pooled += size;
  }

  /** Floats held idle for reuse. */
  pooledElements(): number {
    return this.#pooled;
  }
}

/** The floats behind a cpu storage. */
export function f32(s: Storage): Float32Array {
  return (s as CpuStorage).data;
}
