/**
 * A size-bucketed pool of GPU buffers. A buffer freed while recorded work may still use it
 * waits in `pending` until that work is submitted; only then can it be handed out again, so a
 * later `writeBuffer` (queue-ordered before the next submit) never overwrites live data.
 */

const MIN_BYTES = 256;

/** Size classes of four steps per octave: at most 25% of a buffer is slack. */
export function bucketBytes(bytes: number): number {
  if (bytes <= MIN_BYTES) return MIN_BYTES;
  const octave = 2 ** Math.floor(Math.log2(bytes));
  const step = octave / 4;
  return Math.ceil(bytes / step) * step;
}

export class BufferPool {
  #free = new Map<number, GPUBuffer[]>();
  #pending: GPUBuffer[] = [];
  #pooledBytes = 0;

  constructor(readonly device: GPUDevice, readonly usage: number) {}

  take(bytes: number): GPUBuffer {
    const size = bucketBytes(bytes);
    const hit = this.#free.get(size)?.pop();
    if (hit) {
      this.#pooledBytes -= size;
      return hit;
    }
    return this.device.createBuffer({ size, usage: this.usage });
  }

  /** Returns a buffer that recorded-but-unsubmitted work may still read or write. */
  release(buffer: GPUBuffer): void {
    this.#pending.push(buffer);
  }

  /** Called after a submit: pending buffers become reusable. */
  recycle(): void {
    for (const b of this.#pending) {
      let list = this.#free.get(b.size);
      if (!list) this.#free.set(b.size, list = []);
      list.push(b);
      this.#pooledBytes += b.size;
    }
    this.#pending = [];
  }

  pooledBytes(): number {
    return this.#pooledBytes;
  }

  /** Frees every idle buffer (after a large job, to hand memory back). */
  trim(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.#pooledBytes = 0;
  }
}
