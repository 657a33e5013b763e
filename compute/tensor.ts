/** The Tensor: a shape and dtype over backend storage, plus the tape node that produced it. */

import type { Backend, DType, Storage } from "./backend.ts";
import type { Prim, PrimParams } from "./primitives.ts";
import { fmt, type Shape, sizeOf } from "./shape.ts";
import { track } from "./scope.ts";

/** One recorded primitive application; VJP rules read `inputs` and the output tensor. */
export interface Node<P extends Prim = Prim> {
  prim: P;
  inputs: Tensor[];
  params: PrimParams[P];
}

/** Storage shared by tensors that alias it (reshape); freed when the last alias is disposed. */
export class SharedStorage {
  refs = 1;
  /** The values in float64 when they were uploaded from the host and never written since. */
  host: Float64Array | null = null;
  constructor(readonly backend: Backend, readonly storage: Storage) {}
  release(): void {
    if (--this.refs === 0) this.backend.free(this.storage);
  }
}

let nextId = 0;

export class Tensor {
  readonly id = nextId++;
  /** Producing primitive, recorded only when an input required a gradient. */
  node: Node | null = null;
  /** A leaf whose gradient was asked for (see `autodiff/grad.ts`). */
  watched = false;
  /** Never freed by a scope: parameters, optimiser state, cached constants. */
  persistent = false;
  #shared: SharedStorage | null;

  constructor(shared: SharedStorage, readonly shape: Shape, readonly dtype: DType) {
    if (shared.storage.length < sizeOf(shape)) {
      throw new Error(
        `tensor of shape ${fmt(shape)} needs more than ${shared.storage.length} elements`,
      );
    }
    this.#shared = shared;
    track(this);
  }

  get backend(): Backend {
    return this.shared.backend;
  }
  get shared(): SharedStorage {
    if (this.#shared === null) {
      throw new Error(
        `tensor #${this.id} ${
          fmt(this.shape)
        } was used after being disposed (freed by dispose() or a tidy scope)`,
      );
    }
    return this.#shared;
  }
  get storage(): Storage {
    return this.shared.storage;
  }
  get size(): number {
    return sizeOf(this.shape);
  }
  get rank(): number {
    return this.shape.length;
  }
  get disposed(): boolean {
    return this.#shared === null;
  }
  /** True when gradients flow through this tensor. */
  get requiresGrad(): boolean {
    return this.watched || this.node !== null;
  }

  /** The values without a readback, when `tensorWithHostCopy` made this storage; else null. */
  hostValues(): Float64Array | null {
    const host = this.shared.host;
    return host !== null && host.length === this.size ? host : null;
  }

  /** Copies the values to the host; the only operation that waits for the device. */
  async read(): Promise<Float32Array | Float64Array> {
    const data = await this.backend.read(this.storage);
    return data.length === this.size ? data : data.slice(0, this.size);
  }

  /** Reads a one-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new Error(`item(): tensor has shape ${fmt(this.shape)}, not one element`);
    }
    return (await this.read())[0];
  }

  dispose(): void {
    if (this.#shared === null) return;
    this.#shared.release();
    this.#shared = null;
    this.node = null;
  }

  toString(): string {
    return `Tensor(${fmt(this.shape)}, ${this.dtype}, ${this.backend.name})`;
  }
}
