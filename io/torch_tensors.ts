/**
 * Tensors out of a decoded torch file: each `tensor-ref` descriptor (a strided view of a storage)
 * resolved into a row-major `{ kind: "tensor", dtype, shape, data }`, and every tensor of a graph
 * named by its dotted path — the names a state_dict would use — so importers can look weights
 * up by name.
 */

import { InputError } from "./errors.ts";
import {
  isCall,
  isTensor,
  isTensorRef,
  type PickleValue,
  type TensorData,
  TORCH_DTYPE_BYTES,
  type TorchDType,
  type TorchTensor,
  type TorchTensorRef,
} from "./pickle_value.ts";

/**
 * Every tensor under `value`, keyed by its dotted path from `prefix`: dict keys and list indices
 * joined by dots, and an object placeholder's state walked as the object itself, an
 * `nn.Module`'s `_parameters`, `_buffers` and `_modules` without their own names — the keys
 * `state_dict()` gives (non-persistent buffers included). A container reached by two paths is
 * walked once, under the first; a tensor is listed under every path that reaches it.
 */
export function flattenTensors(value: PickleValue, prefix = ""): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  const seen = new Set<object>();
  const todo: [PickleValue, string][] = [[value, prefix]];
  while (todo.length > 0) {
    const [v, path] = todo.pop()!;
    if (isTensor(v)) {
      if (!out.has(path)) out.set(path, v);
      continue;
    }
    if (typeof v !== "object" || v === null || seen.has(v)) continue;
    seen.add(v);
    const children = childrenOf(v);
    for (let i = children.length - 1; i >= 0; i--) {
      const [segment, child] = children[i];
      todo.push([child, segment === "" ? path : path === "" ? segment : `${path}.${segment}`]);
    }
  }
  return out;
}

/** The state_dict-style names of every tensor in `value` (`flattenTensors` with no prefix). */
export function stateDictOf(value: PickleValue): Map<string, TorchTensor> {
  return flattenTensors(value);
}

/** A tensor's values as float32 (int64 through Number; a Float32Array is returned as is). */
export function float32Of(t: TorchTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof BigInt64Array) return Float32Array.from(t.data, Number);
  return Float32Array.from(t.data);
}

/**
 * Replaces every tensor-ref in the graph by its resolved tensor, in place (the graph was built
 * for this call alone). Iterative, so a deeply nested hostile graph cannot overflow the stack.
 */
export function resolveTensors(root: PickleValue, source: string, budget: number): PickleValue {
  const resolved = new Map<TorchTensorRef, TorchTensor>();
  const seen = new Set<object>();
  const todo: PickleValue[] = [];
  let left = budget;
  /** The tensor for a tensor-ref; any other value is queued for a visit and kept. */
  const resolve = (v: PickleValue): PickleValue => {
    if (!isTensorRef(v)) {
      if (typeof v === "object" && v !== null) todo.push(v);
      return v;
    }
    const known = resolved.get(v);
    if (known !== undefined) return known;
    const { tensor, cost } = materialize(v, source, left);
    left -= cost;
    resolved.set(v, tensor);
    return tensor;
  };
  const resolveArray = (a: PickleValue[]) => {
    for (let i = 0; i < a.length; i++) a[i] = resolve(a[i]);
  };
  const resolveMap = (m: Map<PickleValue, PickleValue>) => {
    for (const [k, x] of m) m.set(k, resolve(x));
  };
  const top = resolve(root);
  while (todo.length > 0) {
    const v = todo.pop()!;
    if (typeof v !== "object" || v === null || seen.has(v)) continue;
    seen.add(v);
    if (Array.isArray(v)) resolveArray(v);
    else if (v instanceof Map) resolveMap(v);
    else if (v instanceof Set) v.forEach((x) => resolve(x)); // tensors are no set members
    else if (isCall(v)) {
      v.callee = resolve(v.callee);
      resolveArray(v.args);
      if (v.kwargs !== null) resolveMap(v.kwargs);
      if (v.state !== undefined) v.state = resolve(v.state);
      resolveArray(v.items);
      resolveMap(v.entries);
    }
  }
  return top;
}

/**
 * A tensor's values in row-major order, read through its strides from its storage, and the
 * elements that cost: the values decoded from the storage, plus the copy of a strided view.
 */
function materialize(
  ref: TorchTensorRef,
  source: string,
  budget: number,
): { tensor: TorchTensor; cost: number } {
  const { storage, dtype, shape, stride, storageOffset } = ref;
  const where = `${source}: a ${dtype} tensor of shape [${shape}] on storage "${storage.key}"`;
  let n = 1;
  for (const d of shape) n *= d;
  const bytes = storage.bytes;
  if (bytes === null) throw new InputError(`${where}: the file holds no data for the storage`);
  const size = TORCH_DTYPE_BYTES[dtype];
  let last = storageOffset; // the highest element the view touches
  for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * stride[i];
  if (n > 0 && (last + 1) * size > bytes.length) {
    throw new InputError(
      `${where}: the view (offset ${storageOffset}, strides [${stride}]) reaches element ${last}, ` +
        `but the storage holds ${Math.floor(bytes.length / size)}`,
    );
  }
  const contiguous = isContiguous(shape, stride);
  const span = n === 0 ? 0 : last - storageOffset + 1;
  const cost = contiguous ? n : n + span;
  if (cost > budget) {
    throw new InputError(
      `${where}: ${cost} elements exceed what is left of the limit on tensor elements (${budget})`,
    );
  }
  const run = decodeRun(dtype, bytes, storageOffset, span, storage.littleEndian);
  const data = contiguous ? run : gather(run, allocate(dtype, n), shape, stride);
  return {
    tensor: { kind: "tensor", dtype, shape: [...shape], data, requiresGrad: ref.requiresGrad },
    cost,
  };
}

function allocate(dtype: TorchDType, n: number): TensorData {
  switch (dtype) {
    case "float32":
    case "float16":
    case "bfloat16":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "int64":
      return new BigInt64Array(n);
    case "int32":
      return new Int32Array(n);
    case "int16":
      return new Int16Array(n);
    case "int8":
      return new Int8Array(n);
    case "uint8":
    case "bool":
      return new Uint8Array(n);
  }
}

/** `count` consecutive elements from element `first`, decoded (a copy, host little-endian). */
function decodeRun(
  dtype: TorchDType,
  bytes: Uint8Array,
  first: number,
  count: number,
  littleEndian: boolean,
): TensorData {
  const size = TORCH_DTYPE_BYTES[dtype];
  const raw = bytes.subarray(first * size, (first + count) * size);
  if (!littleEndian && size > 1) {
    const swapped = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i += size) {
      for (let b = 0; b < size; b++) swapped[i + b] = raw[i + size - 1 - b];
    }
    return decodeRun(dtype, swapped, 0, count, true);
  }
  if (dtype === "float16" || dtype === "bfloat16") {
    const halfBits = new Uint16Array(count);
    new Uint8Array(halfBits.buffer).set(raw);
    const out = new Float32Array(count);
    if (dtype === "float16") {
      const table = halfTable();
      for (let i = 0; i < count; i++) out[i] = table[halfBits[i]];
    } else {
      // bfloat16 is the top half of a float32
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = halfBits[i] << 16;
    }
    return out;
  }
  const out = allocate(dtype, count);
  new Uint8Array(out.buffer).set(raw);
  return out;
}

/** `out` in row-major order from the strided `src` (element 0 of `src` is the view's first). */
function gather<T extends TensorData>(src: T, out: T, shape: number[], stride: number[]): T {
  const from = src as unknown as ArrayLike<number>, to = out as unknown as number[];
  const rank = shape.length, inner = shape[rank - 1], innerStride = stride[rank - 1];
  const index = new Array<number>(rank).fill(0);
  let at = 0;
  for (let i = 0; i < out.length; i += inner) {
    for (let j = 0; j < inner; j++) to[i + j] = from[at + j * innerStride];
    // the next row: bump the axis before the last, carrying into earlier ones
    for (let axis = rank - 2; axis >= 0; axis--) {
      if (++index[axis] < shape[axis]) {
        at += stride[axis];
        break;
      }
      index[axis] = 0;
      at -= (shape[axis] - 1) * stride[axis];
    }
  }
  return out;
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

let halves: Float32Array | undefined;

/** Every IEEE half-precision bit pattern's value, built once. */
function halfTable(): Float32Array {
  if (halves !== undefined) return halves;
  halves = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    halves[h] = exponent === 0
      ? sign * mantissa * 2 ** -24
      : exponent === 31
      ? (mantissa === 0 ? sign * Infinity : NaN)
      : sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return halves;
}

/** The (segment, child) pairs of a container; "" adds no segment to the path. */
function childrenOf(v: PickleValue): [string, PickleValue][] {
  if (Array.isArray(v)) return v.map((x, i) => [String(i), x]);
  if (v instanceof Map) return mapChildren(v);
  if (!isCall(v)) return []; // sets, bytes, globals, storages hold no named tensors
  const out: [string, PickleValue][] = [];
  if (v.state !== undefined) out.push(...stateChildren(v.state));
  out.push(
    ...mapChildren(v.entries),
    ...v.items.map((x, i): [string, PickleValue] => [String(i), x]),
  );
  if (out.length === 0) out.push(...v.args.map((x, i): [string, PickleValue] => [String(i), x]));
  return out;
}

const MODULE_TABLES = ["_parameters", "_buffers", "_modules"];

/**
 * An object's state, walked as the object: an nn.Module's `__dict__` gives its parameters,
 * buffers and submodules under their own names, then its other attributes; Python's
 * (dict, slots) pair gives both.
 */
function stateChildren(state: PickleValue): [string, PickleValue][] {
  if (state instanceof Map) {
    if (!MODULE_TABLES.some((k) => state.get(k) instanceof Map)) return mapChildren(state);
    const tables = MODULE_TABLES.map((k): [string, PickleValue] => ["", state.get(k) ?? null]);
    return [...tables, ...mapChildren(state).filter(([k]) => !MODULE_TABLES.includes(k))];
  }
  if (Array.isArray(state) && state.length === 2) return [["", state[0]], ["", state[1]]];
  return [["", state]];
}

function mapChildren(m: Map<PickleValue, PickleValue>): [string, PickleValue][] {
  const out: [string, PickleValue][] = [];
  for (const [k, x] of m) {
    const segment = keySegment(k);
    if (segment !== undefined) out.push([segment, x]);
  }
  return out;
}

/** A dict key as a path segment, as Python's str() writes it; other keys are not named. */
function keySegment(k: PickleValue): string | undefined {
  if (typeof k === "string") return k;
  if (typeof k === "number" || typeof k === "bigint") return String(k);
  if (typeof k === "boolean") return k ? "True" : "False";
  if (k === null) return "None";
  return undefined;
}
