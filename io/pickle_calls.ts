/**
 * The allow-list of io/pickle.ts: the few callables a checkpoint names whose result is plain
 * data, interpreted rather than called — dict, set, bytes and `torch.Size` constructors, the
 * tensor and parameter rebuilders of torch (→ `tensor-ref` descriptors), the nested torch.save
 * loader, and the instance reconstructors of copyreg and of StyleGAN/EDM's `persistence` module
 * (→ named placeholders holding the instance state). Anything else stays a recorded call.
 */

import {
  classNameOf,
  describe,
  isGlobal,
  isStorage,
  isTensorRef,
  type PickleGlobal,
  type PickleValue,
  placeholder,
  qualifiedName,
  type TorchDType,
} from "./pickle_value.ts";

/** What an interpretation may ask of the decoder running it. */
export interface CallSite {
  /** counts `n` elements of work against the file's budget */
  charge(n: number): void;
  /** throws the InputError for the opcode being run */
  fail(message: string): never;
  /** a nested call, interpreted or recorded */
  call(
    callee: PickleValue,
    args: PickleValue[],
    kwargs: Map<PickleValue, PickleValue> | null,
    instantiates: boolean,
  ): PickleValue;
  /** the caller's decoding of a nested torch.save blob, if it gave one */
  loadFromBytes(blob: Uint8Array): PickleValue | undefined;
  /** a list of at most 64 non-negative integers (sizes or strides), else an InputError */
  dims(v: PickleValue, what: string): number[];
}

/** The value of `callee(*args)` when the callee is on the allow-list and the arguments fit. */
export function interpretCall(
  site: CallSite,
  callee: PickleGlobal,
  args: PickleValue[],
): PickleValue | undefined {
  const interpret = ALLOWED.get(qualifiedName(callee)) ??
    (isPersistenceModule(callee) ? persistentObject : undefined);
  return interpret?.(site, args, callee);
}

/** Returns the call's value, or undefined to keep the call as a placeholder. */
type Interpreter = (
  d: CallSite,
  args: PickleValue[],
  callee: PickleGlobal,
) => PickleValue | undefined;

const isCount = (v: PickleValue | undefined): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

function dictFrom(d: CallSite, args: PickleValue[]): PickleValue | undefined {
  if (args.length === 0) return new Map();
  const [init] = args;
  if (args.length !== 1) return undefined;
  if (init instanceof Map) {
    d.charge(init.size);
    return new Map(init);
  }
  if (!Array.isArray(init) || !init.every((p) => Array.isArray(p) && p.length === 2)) {
    return undefined;
  }
  d.charge(init.length);
  return new Map(init.map((p) => (p as PickleValue[]).slice(0, 2) as [PickleValue, PickleValue]));
}

function setFrom(d: CallSite, args: PickleValue[]): PickleValue | undefined {
  if (args.length === 0) return new Set();
  const [init] = args;
  if (args.length !== 1 || !(Array.isArray(init) || init instanceof Set)) return undefined;
  d.charge(Array.isArray(init) ? init.length : init.size);
  return new Set(init);
}

/** bytes/bytearray(b) copies b; bytes/bytearray(str, "latin-1") encodes. */
function bytesFrom(d: CallSite, args: PickleValue[]): PickleValue | undefined {
  if (args.length === 0) return new Uint8Array(0);
  const [init, encoding] = args;
  if (init instanceof Uint8Array && args.length === 1) {
    d.charge(init.length);
    return init.slice();
  }
  if (typeof init === "string" && args.length === 2) return latin1Encode(d, init, encoding);
  return undefined;
}

/** `_codecs.encode(text, "latin1")`: protocol 2's spelling of a bytes object. */
function codecsEncode(d: CallSite, args: PickleValue[]): PickleValue | undefined {
  const [text, encoding] = args;
  return typeof text === "string" && args.length === 2
    ? latin1Encode(d, text, encoding)
    : undefined;
}

function latin1Encode(d: CallSite, text: string, encoding: PickleValue): Uint8Array | undefined {
  if (typeof encoding !== "string" || !/^(latin-?1|iso-?8859-?1)$/i.test(encoding)) {
    return undefined;
  }
  d.charge(text.length);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) d.fail(`character U+${c.toString(16)} cannot be encoded as latin-1`);
    out[i] = c;
  }
  return out;
}

/** `_rebuild_tensor(storage, offset, size, stride, [requires_grad, hooks, …])` */
function rebuildTensor(
  d: CallSite,
  args: PickleValue[],
  dtype?: TorchDType,
): PickleValue | undefined {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!isStorage(storage)) return undefined; // e.g. a storage no hook resolved: keep the call
  if (!isCount(offset)) {
    d.fail(`a tensor's storage offset must be a non-negative integer, found ${describe(offset)}`);
  }
  const shape = d.dims(size, "size"), strides = d.dims(stride, "stride");
  if (shape.length !== strides.length) {
    d.fail(`a tensor has ${shape.length} sizes but ${strides.length} strides`);
  }
  return {
    kind: "tensor-ref",
    storage,
    dtype: dtype ?? storage.dtype,
    storageOffset: offset,
    shape: [...shape],
    stride: [...strides],
    requiresGrad: requiresGrad === true,
  };
}

/** `_rebuild_tensor_v3(…, requires_grad, hooks, dtype, …)`: the dtype is `torch.<name>`. */
function rebuildTensorV3(d: CallSite, args: PickleValue[]): PickleValue | undefined {
  const dtype = args[6];
  const name = isGlobal(dtype) && dtype.module === "torch" ? DTYPE_NAMES[dtype.name] : undefined;
  return name === undefined ? undefined : rebuildTensor(d, args, name);
}

const DTYPE_NAMES: Record<string, TorchDType> = {
  float32: "float32",
  float: "float32",
  float64: "float64",
  double: "float64",
  float16: "float16",
  half: "float16",
  bfloat16: "bfloat16",
  int64: "int64",
  long: "int64",
  int32: "int32",
  int: "int32",
  int16: "int16",
  short: "int16",
  int8: "int8",
  uint8: "uint8",
  bool: "bool",
};

/** `_rebuild_parameter(data, requires_grad, hooks[, state])`: the tensor, as a parameter. */
function rebuildParameter(_d: CallSite, args: PickleValue[]): PickleValue | undefined {
  const [data, requiresGrad] = args;
  return isTensorRef(data) ? { ...data, requiresGrad: requiresGrad === true } : undefined;
}

/** `_rebuild_from_type_v2(func, type, args, state)`: a tensor subclass; the tensor it wraps. */
function rebuildFromType(d: CallSite, args: PickleValue[]): PickleValue | undefined {
  const [func, , funcArgs] = args;
  if (!Array.isArray(funcArgs)) return undefined;
  const value = d.call(func, funcArgs, null, false);
  return isTensorRef(value) ? value : undefined;
}

function loadFromBytes(d: CallSite, args: PickleValue[]): PickleValue | undefined {
  const [blob] = args;
  return blob instanceof Uint8Array && args.length === 1 ? d.loadFromBytes(blob) : undefined;
}

/** `copyreg._reconstructor(cls, base, state)`: protocol 0/1's instance of `cls`. */
function reconstructor(
  _d: CallSite,
  args: PickleValue[],
  callee: PickleGlobal,
): PickleValue | undefined {
  const [cls] = args;
  return isGlobal(cls) ? placeholder(callee, args, null, classNameOf(cls)) : undefined;
}

/** `copyreg.__newobj__(cls, *args)`: NEWOBJ spelled as a call. */
function newObject(d: CallSite, args: PickleValue[]): PickleValue | undefined {
  const [cls, ...rest] = args;
  return args.length > 0 ? d.call(cls, rest, null, true) : undefined;
}

/**
 * StyleGAN/EDM's `persistence._reconstruct_persistent_obj(meta)`: the pickled object of a class
 * whose source is stored with it; `meta` holds the class name and the instance state.
 */
function persistentObject(
  _d: CallSite,
  args: PickleValue[],
  callee: PickleGlobal,
): PickleValue | undefined {
  const [meta] = args;
  if (!(meta instanceof Map) || args.length !== 1 || meta.get("type") !== "class") return undefined;
  const className = meta.get("class_name");
  const call = placeholder(callee, args, null, typeof className === "string" ? className : null);
  const state = meta.get("state");
  if (state !== undefined && state !== null) call.state = state;
  return call;
}

const isPersistenceModule = (g: PickleGlobal) =>
  g.name === "_reconstruct_persistent_obj" && /(^|\.)persistence$/.test(g.module);

/** `torch.Size(dims)`: the dims. */
function torchSize(_d: CallSite, args: PickleValue[]): PickleValue | undefined {
  const [dims] = args;
  return Array.isArray(dims) && dims.every(isCount) ? [...dims] : undefined;
}

const ALLOWED = new Map<string, Interpreter>([
  ["collections.OrderedDict", dictFrom],
  ["builtins.dict", dictFrom],
  ["builtins.set", setFrom],
  ["builtins.frozenset", setFrom],
  ["builtins.bytes", bytesFrom],
  ["builtins.bytearray", bytesFrom],
  ["_codecs.encode", codecsEncode],
  ["copyreg._reconstructor", reconstructor],
  ["copyreg.__newobj__", newObject],
  ["torch.Size", torchSize],
  ["torch._utils._rebuild_tensor", (d, a) => rebuildTensor(d, a)],
  ["torch._utils._rebuild_tensor_v2", (d, a) => rebuildTensor(d, a)],
  ["torch._utils._rebuild_tensor_v3", rebuildTensorV3],
  ["torch._utils._rebuild_parameter", rebuildParameter],
  ["torch._utils._rebuild_parameter_with_state", rebuildParameter],
  ["torch._tensor._rebuild_from_type", rebuildFromType],
  ["torch._tensor._rebuild_from_type_v2", rebuildFromType],
  ["torch.storage._load_from_bytes", loadFromBytes],
]);
