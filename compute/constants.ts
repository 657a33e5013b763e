/** Tensors made from host values: arrays, fills, and cached scalar constants. */

import type { Backend, DType } from "./backend.ts";
import { checkRank, fmt, type Shape, sizeOf } from "./shape.ts";
import { SharedStorage, Tensor } from "./tensor.ts";
import { keep } from "./scope.ts";

/** Uploads `data` (row-major) as a tensor of `shape`. */
export function tensor(
  backend: Backend,
  data: ArrayLike<number>,
  shape: Shape = [data.length],
  dtype: DType = "f32",
): Tensor {
  if (sizeOf(shape) !== data.length) {
    throw new Error(`tensor: ${data.length} values do not fill shape ${fmt(shape)}`);
  }
  if (!backend.supports(dtype)) throw new Error(`tensor: backend ${backend.name} has no ${dtype}`);
  checkRank("tensor", shape);
  const storage = backend.alloc(Math.max(1, data.length), dtype);
  const typed = dtype === "f64" ? Float64Array.from(data) : Float32Array.from(data);
  if (data.length > 0) backend.write(storage, typed);
  return new Tensor(new SharedStorage(backend, storage), [...shape], dtype);
}

/**
 * `tensor` that also keeps its values on the host in float64 (`hostValues`), so host-side
 * arithmetic on them needs no readback: per-example times an ODE solver uploads, and the
 * coefficients computed from them. An `assign` into it drops the copy.
 */
export function tensorWithHostCopy(
  backend: Backend,
  data: ArrayLike<number>,
  shape: Shape = [data.length],
  dtype: DType = "f32",
): Tensor {
  const t = tensor(backend, data, shape, dtype);
  // the values as stored: float32 storage holds them rounded
  t.shared.host = dtype === "f32" ? Float64Array.from(data, Math.fround) : Float64Array.from(data);
  return t;
}

export function full(backend: Backend, shape: Shape, value: number, dtype: DType = "f32"): Tensor {
  checkRank("full", shape);
  const storage = backend.alloc(Math.max(1, sizeOf(shape)), dtype);
  backend.fill(storage, value);
  return new Tensor(new SharedStorage(backend, storage), [...shape], dtype);
}

export function zeros(backend: Backend, shape: Shape, dtype: DType = "f32"): Tensor {
  return full(backend, shape, 0, dtype);
}

export function ones(backend: Backend, shape: Shape, dtype: DType = "f32"): Tensor {
  return full(backend, shape, 1, dtype);
}

const CACHE_LIMIT = 4096;
const scalars = new WeakMap<Backend, Map<string, Tensor>>();

/**
 * A shape-[] tensor holding `value`, cached per backend so that `mul(x, 0.5)` in a hot loop
 * does not upload a new buffer each time. The cache is bounded; past it, constants are fresh
 * (and freed by the enclosing scope).
 */
export function constant(backend: Backend, value: number, dtype: DType): Tensor {
  let cache = scalars.get(backend);
  if (!cache) scalars.set(backend, cache = new Map());
  const key = `${dtype}:${Object.is(value, -0) ? "-0" : value}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const t = full(backend, [], value, dtype);
  if (cache.size < CACHE_LIMIT) cache.set(key, keep(t));
  return t;
}
