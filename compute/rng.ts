/**
 * Explicit randomness (STYLE 13): an `Rng` is a Philox key plus a counter. Every draw consumes
 * a counter range, so a fixed seed and call order give the same numbers on both backends;
 * `derive(purpose)` splits independent streams (data order, times, noise, probes).
 */

import type { Backend, DType, RandomKind } from "./backend.ts";
import { philox4x32, sampleElement } from "./random/philox.ts";
import { SharedStorage, Tensor } from "./tensor.ts";
import { checkRank, type Shape, sizeOf } from "./shape.ts";

/** FNV-1a, to turn a purpose name into a 32-bit stream id. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export interface RngState {
  key: [number, number];
  counter: number;
}

export class Rng {
  #key: [number, number];
  #counter: number;

  constructor(state: RngState) {
    this.#key = [state.key[0] >>> 0, state.key[1] >>> 0];
    this.#counter = state.counter;
  }

  /** A generator keyed by an integer seed (any safe integer). */
  static fromSeed(seed: number): Rng {
    if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
    const lo = seed >>> 0, hi = Math.floor(seed / 4294967296) >>> 0;
    const w = philox4x32([lo, hi, 0x5eed, 0], [0x243f6a88, 0x85a308d3]);
    return new Rng({ key: [w[0], w[1]], counter: 0 });
  }

  /** An independent stream for `purpose` (same purpose, same stream); does not advance this one. */
  derive(purpose: string | number): Rng {
    const id = typeof purpose === "number" ? purpose >>> 0 : hash32(purpose);
    const w = philox4x32([id, typeof purpose === "number" ? 1 : 2, 0xd371, 0], this.#key);
    return new Rng({ key: [w[0], w[1]], counter: 0 });
  }

  /**
   * The same stream positioned at `counter`: draws keyed by a global index (example i of a
   * dataset uses counters from i·perExample) give the same numbers however work is batched
   * or sharded.
   */
  at(counter: number): Rng {
    if (!Number.isSafeInteger(counter) || counter < 0) {
      throw new Error(`Rng.at: bad counter ${counter}`);
    }
    return new Rng({ key: this.#key, counter });
  }

  /** Host-side uniforms in [0, 1) from the same bits the device would draw (float64 values). */
  uniformHost(n: number): Float64Array {
    const out = new Float64Array(n);
    const p = { kind: "uniform" as const, key: this.#key, counter: this.#counter, bound: 0 };
    for (let i = 0; i < n; i++) out[i] = sampleElement(p, i);
    this.#counter += n;
    return out;
  }

  state(): RngState {
    return { key: [...this.#key], counter: this.#counter };
  }

  uniform(backend: Backend, shape: Shape, dtype: DType = "f32"): Tensor {
    return this.#draw(backend, "uniform", shape, dtype, 0);
  }
  normal(backend: Backend, shape: Shape, dtype: DType = "f32"): Tensor {
    return this.#draw(backend, "normal", shape, dtype, 0);
  }
  /** ±1 with equal probability (Hutchinson probes). */
  rademacher(backend: Backend, shape: Shape, dtype: DType = "f32"): Tensor {
    return this.#draw(backend, "rademacher", shape, dtype, 0);
  }
  /** Standard normal conditioned on |z| ≤ bound. */
  truncatedNormal(backend: Backend, shape: Shape, bound: number, dtype: DType = "f32"): Tensor {
    if (!(bound > 0)) throw new Error(`truncatedNormal: bound must be positive, got ${bound}`);
    return this.#draw(backend, "truncnormal", shape, dtype, bound);
  }

  #draw(backend: Backend, kind: RandomKind, shape: Shape, dtype: DType, bound: number): Tensor {
    checkRank(kind, shape);
    const n = sizeOf(shape);
    const storage = backend.alloc(Math.max(1, n), dtype);
    backend.random({ kind, key: this.#key, counter: this.#counter, bound }, storage);
    this.#counter += n;
    return new Tensor(new SharedStorage(backend, storage), [...shape], dtype);
  }
}
