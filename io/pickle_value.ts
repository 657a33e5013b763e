/**
 * The values io/pickle.ts builds: Python's plain data as JavaScript values, and the few kinds of
 * object that stand for what a pickle would otherwise have to run — globals, recorded calls,
 * torch storages, tensor descriptors and resolved tensors — with their type guards.
 */

/** Element types of the tensors this reader resolves (torch's names). */
export type TorchDType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** Bytes per element of each dtype as stored. */
export const TORCH_DTYPE_BYTES: Readonly<Record<TorchDType, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** A Python global (class or function), named and never resolved. */
export interface PickleGlobal {
  kind: "global";
  module: string;
  name: string;
}

/**
 * A call that was recorded rather than made: a REDUCE, NEWOBJ, OBJ or INST of something off the
 * allow-list. BUILD, APPEND(S) and SETITEM(S) aimed at it land in `state`, `items`, `entries`.
 */
export interface PickleCall {
  kind: "call";
  callee: PickleValue;
  args: PickleValue[];
  /** NEWOBJ_EX's keyword arguments */
  kwargs: Map<PickleValue, PickleValue> | null;
  /** "module.Name" of the class being instantiated where the stream says so, else null */
  className: string | null;
  /** BUILD's argument (usually the instance `__dict__`); undefined when there was no BUILD */
  state: PickleValue | undefined;
  /** items appended to the object (a list subclass) */
  items: PickleValue[];
  /** items set on the object (a dict subclass) */
  entries: Map<PickleValue, PickleValue>;
}

/** A storage as a torch file's persistent id describes it; `bytes` is filled in by the reader. */
export interface TorchStorage {
  kind: "storage";
  dtype: TorchDType;
  key: string;
  /** elements of `dtype` */
  numel: number;
  location: string;
  /** exactly numel × element-size bytes once known; null until the reader has them */
  bytes: Uint8Array | null;
  littleEndian: boolean;
}

/** A tensor as the pickle describes it: a strided view of a storage (row-major `shape`). */
export interface TorchTensorRef {
  kind: "tensor-ref";
  storage: TorchStorage;
  dtype: TorchDType;
  /** in elements of `dtype` */
  storageOffset: number;
  shape: number[];
  /** in elements of `dtype` */
  stride: number[];
  requiresGrad: boolean;
}

export type TensorData =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/**
 * A resolved tensor, row-major. float16 and bfloat16 are widened to Float32Array, float64 stays
 * Float64Array, int64 is BigInt64Array, bool is Uint8Array (0/1).
 */
export interface TorchTensor {
  kind: "tensor";
  dtype: TorchDType;
  shape: number[];
  data: TensorData;
  requiresGrad: boolean;
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | Map<PickleValue, PickleValue>
  | Set<PickleValue>
  | PickleGlobal
  | PickleCall
  | TorchStorage
  | TorchTensorRef
  | TorchTensor;

/** The value's placeholder kind ("global", "call", "storage", "tensor-ref", "tensor"), if any. */
export function kindOf(v: PickleValue | undefined): string | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    return undefined;
  }
  if (v instanceof Map || v instanceof Set) return undefined;
  return v.kind;
}

export const isGlobal = (v: PickleValue | undefined): v is PickleGlobal => kindOf(v) === "global";
export const isCall = (v: PickleValue | undefined): v is PickleCall => kindOf(v) === "call";
export const isStorage = (v: PickleValue | undefined): v is TorchStorage => kindOf(v) === "storage";
export const isTensorRef = (v: PickleValue | undefined): v is TorchTensorRef =>
  kindOf(v) === "tensor-ref";
export const isTensor = (v: PickleValue | undefined): v is TorchTensor => kindOf(v) === "tensor";

/** "module.name" with the module names Python 3 maps from Python 2 and old torch. */
export function qualifiedName(g: PickleGlobal): string {
  return `${RENAMED_MODULES[g.module] ?? g.module}.${g.name}`;
}

const RENAMED_MODULES: Record<string, string> = {
  __builtin__: "builtins",
  copy_reg: "copyreg",
  "torch.tensor": "torch._tensor",
};

/** A recorded call; BUILD, APPEND(S) and SETITEM(S) fill in the rest later. */
export function placeholder(
  callee: PickleValue,
  args: PickleValue[],
  kwargs: Map<PickleValue, PickleValue> | null,
  className: string | null,
): PickleCall {
  return {
    kind: "call",
    callee,
    args,
    kwargs,
    className,
    state: undefined,
    items: [],
    entries: new Map(),
  };
}

/** "module.Name" of a class global, else null. */
export function classNameOf(cls: PickleValue): string | null {
  return isGlobal(cls) ? `${cls.module}.${cls.name}` : null;
}

/** A text for error messages, cut at 40 characters. */
export const clip = (text: string) => (text.length > 40 ? `${text.slice(0, 40)}…` : text);

/** A short description of a value for error messages. */
export function describe(v: PickleValue | undefined): string {
  if (v === undefined) return "nothing";
  if (v === null) return "None";
  if (Array.isArray(v)) return `a list/tuple of ${v.length}`;
  if (v instanceof Map) return `a dict of ${v.size}`;
  if (v instanceof Set) return `a set of ${v.size}`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (typeof v === "string") return `the string "${clip(v)}"`;
  if (typeof v !== "object") return `${typeof v} ${String(v)}`;
  if (v.kind === "global") return `the global ${v.module}.${v.name}`;
  if (v.kind === "call") return `a call of ${describe(v.callee)}`;
  return `a ${v.kind}`;
}
