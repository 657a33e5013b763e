/**
 * PyTorch files read without Python and without running anything they name: the zip format of
 * torch.save ≥ 1.6 (`<prefix>/data.pkl` plus one raw `<prefix>/data/<key>` entry per storage),
 * the legacy torch.save format (pickles of the magic number, the protocol version and the
 * system info, then the object, then the list of storage keys, then each storage as an int64
 * element count and its bytes) and a plain `pickle.dump` holding tensors, such as EDM's
 * `network-snapshot-*.pkl`, whose storages are nested legacy torch.save blobs passed to
 * `torch.storage._load_from_bytes`. The object graph comes from io/pickle.ts with each tensor
 * resolved into `{ kind: "tensor", dtype, shape, data }` (row-major, views copied out through
 * their strides and storage offset, io/torch_tensors.ts); `flattenTensors` then names every
 * tensor by its dotted path, the names a state_dict would use, so importers can look weights up.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * // pickle.dumps({"step": 3}, protocol=2): no tensors, so a plain pickle
 * const bytes = Uint8Array.from([
 *   0x80, 0x02, 0x7d, 0x58, 4, 0, 0, 0, 0x73, 0x74, 0x65, 0x70, 0x4b, 3, 0x73, 0x2e,
 * ]);
 * assert.deepEqual(readTorchFile(bytes, "ckpt.pkl"), new Map([["step", 3]]));
 * assert.equal(flattenTensors(readTorchFile(bytes, "ckpt.pkl")).size, 0);
 * ```
 */

import { unzipSync } from "fflate";
import { InputError } from "./errors.ts";
import {
  decodePickle,
  describe,
  isGlobal,
  type PickleLimits,
  type PickleValue,
  TORCH_DTYPE_BYTES,
  type TorchDType,
  type TorchStorage,
} from "./pickle.ts";
import { resolveTensors } from "./torch_tensors.ts";

export { flattenTensors, float32Of, stateDictOf } from "./torch_tensors.ts";
export type {
  PickleCall,
  PickleGlobal,
  PickleValue,
  TensorData,
  TorchDType,
  TorchTensor,
} from "./pickle.ts";

export interface TorchFileOptions {
  /** nested torch.save blobs inside blobs (EDM's snapshots need 1); default 2 */
  maxNesting?: number;
  /** elements over all resolved tensors; default 4 × the file's byte length + 2^24 */
  maxTensorElements?: number;
  pickleLimits?: Partial<PickleLimits>;
}

/**
 * Reads a torch.save file (zip or legacy) or a plain pickle holding tensors. Every defect is an
 * `InputError` that names `name`, the part of the file and the byte offset.
 */
export function readTorchFile(
  bytes: Uint8Array,
  name: string,
  options: TorchFileOptions = {},
): PickleValue {
  const context: Context = {
    maxNesting: options.maxNesting ?? 2,
    limits: options.pickleLimits ?? {},
    blobs: new Map(),
  };
  const root = decodeTorchBytes(bytes, name, context, 0);
  const budget = options.maxTensorElements ?? 4 * bytes.length + (1 << 24);
  return resolveTensors(root, name, budget);
}

interface Context {
  maxNesting: number;
  limits: Partial<PickleLimits>;
  /** nested blobs already decoded, so a blob referenced many times is decoded once */
  blobs: Map<Uint8Array, PickleValue>;
}

const MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;

function decodeTorchBytes(
  bytes: Uint8Array,
  source: string,
  context: Context,
  depth: number,
): PickleValue {
  if (bytes.length === 0) throw new InputError(`${source}: the file is empty`);
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) return readZip(bytes, source, context, depth);
  if (latin1(bytes.subarray(257, 262)) === "ustar") {
    throw new InputError(
      `${source}: a tar archive, torch.save's format before PyTorch 0.4, which is not ` +
        `supported: load and re-save it with a recent PyTorch`,
    );
  }
  const loadFromBytes = nestedLoader(source, context, depth);
  let first: { value: PickleValue; end: number };
  try {
    first = decodePickle(bytes, source, { limits: context.limits, loadFromBytes });
  } catch (e) {
    // protocols 2–5 open with PROTO (0x80); anything else that fails is likely not a pickle
    const own = e instanceof InputError && e.message.startsWith(`${source}: `);
    if (!own || bytes[0] === 0x80) throw e;
    throw new InputError(
      `${source}: expected a torch.save zip archive or a pickle, and the data does not decode ` +
        `as either (${(e as Error).message.slice(source.length + 2)})`,
    );
  }
  if (first.value !== MAGIC_NUMBER) return first.value; // a plain pickle
  return readLegacy(bytes, source, first.end, context, loadFromBytes);
}

/** `torch.storage._load_from_bytes(blob)`: torch.load of the blob, to a limited depth. */
function nestedLoader(source: string, context: Context, depth: number) {
  return (blob: Uint8Array, at: number): PickleValue => {
    const known = context.blobs.get(blob);
    if (known !== undefined) return known;
    const where = `${source} (torch.save blob loaded at byte offset ${at})`;
    if (depth >= context.maxNesting) {
      throw new InputError(`${where}: nested more than ${context.maxNesting} levels deep`);
    }
    const value = decodeTorchBytes(blob, where, context, depth + 1);
    context.blobs.set(blob, value);
    return value;
  };
}

function readLegacy(
  bytes: Uint8Array,
  source: string,
  start: number,
  context: Context,
  loadFromBytes: (blob: Uint8Array, at: number) => PickleValue,
): PickleValue {
  const limits = context.limits;
  const version = decodePickle(bytes, source, { start, limits });
  if (version.value !== LEGACY_PROTOCOL_VERSION) {
    throw new InputError(
      `${source}: legacy torch.save protocol version at byte offset ${start} is ` +
        `${describe(version.value)}, expected ${LEGACY_PROTOCOL_VERSION}`,
    );
  }
  const sysInfo = decodePickle(bytes, source, { start: version.end, limits });
  const storages = new Map<string, TorchStorage>();
  const views: { view: TorchStorage; root: TorchStorage; offset: number }[] = [];
  const persistentLoad = (pid: PickleValue, at: number): PickleValue => {
    const fail = (msg: string): never => {
      throw new InputError(`${source}: persistent id at byte offset ${at}: ${msg}`);
    };
    const [kind, type, key, location, numel, view] = Array.isArray(pid) && pid.length > 0
      ? pid
      : fail(`expected a tuple, found ${describe(pid)}`);
    if (text(kind) === "module") return type ?? null; // a whole nn.Module's class, as a global
    if (text(kind) !== "storage") fail(`expected "storage" or "module", found ${describe(kind)}`);
    const dtype = storageDType(type, fail);
    const k = text(key) ?? fail(`expected a storage key, found ${describe(key)}`);
    const count = isCount(numel)
      ? numel
      : fail(`expected an element count, found ${describe(numel)}`);
    const root = storages.get(k) ?? {
      kind: "storage",
      dtype,
      key: k,
      numel: count,
      location: text(location) ?? "",
      bytes: null,
      littleEndian: true, // the legacy writer stores data little-endian whatever the machine
    };
    storages.set(k, root);
    if (view === undefined || view === null) return root;
    // torch < 1.0 could save views of storages: (view key, offset, size) in root elements
    const [viewKey, offset, size] = Array.isArray(view) ? view : [];
    const vk = text(viewKey);
    if (vk === undefined || !isCount(offset) || !isCount(size)) {
      return fail(`expected a storage view (key, offset, size), found ${describe(view)}`);
    }
    const existing = storages.get(vk);
    if (existing !== undefined) return existing;
    const v: TorchStorage = { ...root, key: vk, numel: size, bytes: null };
    storages.set(vk, v);
    views.push({ view: v, root, offset });
    return v;
  };
  const main = decodePickle(bytes, source, {
    start: sysInfo.end,
    limits,
    persistentLoad,
    loadFromBytes,
  });
  const keys = decodePickle(bytes, source, { start: main.end, limits });
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === "string")) {
    throw new InputError(
      `${source}: expected the list of storage keys at byte offset ${main.end}, found ` +
        describe(keys.value),
    );
  }
  const data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const storage = storages.get(key);
    const at = `${source}: storage "${key}" at byte offset ${pos}`;
    if (storage === undefined) throw new InputError(`${at}: listed, but no tensor refers to it`);
    if (pos + 8 > bytes.length) {
      throw new InputError(`${at}: expected an 8-byte element count, found the end of the file`);
    }
    const count = data.getBigInt64(pos, true);
    if (count !== BigInt(storage.numel)) {
      throw new InputError(`${at}: holds ${count} elements, its tensors expect ${storage.numel}`);
    }
    const n = storage.numel * TORCH_DTYPE_BYTES[storage.dtype];
    if (n > bytes.length - pos - 8) {
      throw new InputError(
        `${at}: needs ${n} bytes of data, the file has ${bytes.length - pos - 8} left (truncated?)`,
      );
    }
    storage.bytes = bytes.subarray(pos + 8, pos + 8 + n);
    pos += 8 + n;
  }
  for (const { view, root, offset } of views) {
    const e = TORCH_DTYPE_BYTES[root.dtype];
    if (root.bytes !== null && (offset + view.numel) * e <= root.bytes.length) {
      view.bytes = root.bytes.subarray(offset * e, (offset + view.numel) * e);
    }
  }
  return main.value;
}

/** Entry names of a torch.save zip that this reader needs (the prefix is the archive's name). */
const ZIP_WANTED = /(^|\/)(data\.pkl|byteorder|data\/[^/]+)$/;
/** Deflate cannot expand more than about 1032 : 1, so a larger claim is a lie. */
const DEFLATE_MAX_RATIO = 1032;

function readZip(bytes: Uint8Array, source: string, context: Context, depth: number): PickleValue {
  const files = unzipWanted(bytes, source);
  const pickles = Object.keys(files).filter((n) => n === "data.pkl" || n.endsWith("/data.pkl"));
  if (pickles.length === 0) {
    throw new InputError(`${source}: a zip archive without data.pkl, so not a torch.save file`);
  }
  const pkl = pickles.sort((a, b) => a.length - b.length)[0];
  const prefix = pkl.slice(0, -"data.pkl".length);
  const order = files[`${prefix}byteorder`];
  const orderText = order === undefined ? "little" : latin1(order).trim();
  if (orderText !== "little" && orderText !== "big") {
    throw new InputError(
      `${source}: ${prefix}byteorder says "${orderText.slice(0, 20)}", expected little or big`,
    );
  }
  const pklSource = `${source} (${pkl})`;
  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: PickleValue, at: number): PickleValue => {
    const fail = (msg: string): never => {
      throw new InputError(`${pklSource}: persistent id at byte offset ${at}: ${msg}`);
    };
    const [kind, type, key, location, numel] = Array.isArray(pid) ? pid : [];
    if (text(kind) !== "storage") {
      fail(`expected ("storage", type, key, location, numel), found ${describe(pid)}`);
    }
    const dtype = storageDType(type, fail);
    const k = text(key) ?? fail(`expected a storage key, found ${describe(key)}`);
    const count = isCount(numel)
      ? numel
      : fail(`expected an element count, found ${describe(numel)}`);
    const known = storages.get(k);
    if (known !== undefined) return known;
    const entry = files[`${prefix}data/${k}`] ??
      fail(`the archive has no entry ${prefix}data/${k}`);
    const n = count * TORCH_DTYPE_BYTES[dtype];
    if (entry.length < n) {
      fail(`entry ${prefix}data/${k} holds ${entry.length} bytes, ${count} ${dtype} need ${n}`);
    }
    const storage: TorchStorage = {
      kind: "storage",
      dtype,
      key: k,
      numel: count,
      location: text(location) ?? "",
      bytes: entry.subarray(0, n),
      littleEndian: orderText === "little",
    };
    storages.set(k, storage);
    return storage;
  };
  return decodePickle(files[pkl], pklSource, {
    limits: context.limits,
    persistentLoad,
    loadFromBytes: nestedLoader(pklSource, context, depth),
  }).value;
}

/**
 * The archive's data.pkl, byteorder and data/* entries. The central directory is checked as
 * fflate walks it: more entries than the file could hold, an impossible compression ratio, or
 * more bytes in total than the bound below are refused before anything is allocated for them.
 */
function unzipWanted(bytes: Uint8Array, source: string): Record<string, Uint8Array> {
  const maxEntries = Math.floor(bytes.length / 46) + 1; // a directory record is ≥ 46 bytes
  const maxBytes = Math.max(64 * bytes.length, 1 << 26);
  let entries = 0, total = 0;
  try {
    return unzipSync(bytes, {
      filter: (f) => {
        if (++entries > maxEntries) {
          throw new InputError(`${source}: the zip directory lists more entries than fit the file`);
        }
        if (!ZIP_WANTED.test(f.name)) return false;
        if (f.compression !== 0 && f.compression !== 8) {
          throw new InputError(
            `${source}: zip entry ${f.name} uses compression method ${f.compression}, ` +
              `expected 0 (stored) or 8 (deflate)`,
          );
        }
        const size = f.compression === 0 ? f.size : f.originalSize;
        if (f.compression === 8 && f.originalSize > DEFLATE_MAX_RATIO * f.size + 1024) {
          throw new InputError(
            `${source}: zip entry ${f.name} claims ${f.originalSize} bytes from ${f.size} ` +
              `compressed, more than deflate can expand`,
          );
        }
        total += size;
        if (total > maxBytes) {
          throw new InputError(
            `${source}: the zip entries expand to more than ${maxBytes} bytes (a zip bomb?)`,
          );
        }
        return true;
      },
    });
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(
      `${source}: not a readable zip archive (${e instanceof Error ? e.message : String(e)})`,
    );
  }
}

/** The element type of a storage class global such as `torch.FloatStorage`. */
const STORAGE_DTYPES: Record<string, TorchDType> = {
  FloatStorage: "float32",
  DoubleStorage: "float64",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
  UntypedStorage: "uint8",
};

function storageDType(type: PickleValue, fail: (msg: string) => never): TorchDType {
  if (!isGlobal(type) || !/^torch(\.cuda)?$/.test(type.module)) {
    return fail(`expected a storage class such as torch.FloatStorage, found ${describe(type)}`);
  }
  const dtype = Object.hasOwn(STORAGE_DTYPES, type.name) ? STORAGE_DTYPES[type.name] : undefined;
  return dtype ??
    fail(
      `storage class ${type.module}.${type.name} is not supported (supported: ${
        Object.keys(STORAGE_DTYPES).join(", ")
      })`,
    );
}

const isCount = (v: PickleValue | undefined): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** A str, or bytes holding ASCII (torch decodes byte keys the same way). */
function text(v: PickleValue | undefined): string | undefined {
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return latin1(v);
  return undefined;
}

const latin1 = (b: Uint8Array) => new TextDecoder("latin1").decode(b);
