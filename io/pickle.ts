/**
 * A pickle decoder (protocols 0–5) that builds the object graph as plain data and never runs
 * anything: PyTorch checkpoints are pickles, and Python's own unpickler imports and calls
 * whatever the file names, so a checkpoint cannot be trusted there. Here a global is only its
 * name, `{ kind: "global", module, name }`, and a call (REDUCE, NEWOBJ, OBJ, INST) is a
 * `{ kind: "call" }` placeholder that records its callee, arguments and later state — unless the
 * callee is on a short allow-list of functions whose result is plain data: `OrderedDict`, `set`,
 * `frozenset`, `bytearray`, `_codecs.encode` (how protocol 2 writes bytes), `torch.Size`, the
 * tensor and parameter rebuilders (→ `tensor-ref` descriptors), `torch.storage._load_from_bytes`
 * (a nested torch.save blob, handed to the caller) and the object reconstructors of copyreg and
 * of StyleGAN/EDM's `persistence` module (→ named placeholders holding the object's state).
 *
 * Values: None → null, bool → boolean, int → number (bigint beyond ±2^53), float → number,
 * str → string (Python 2 strings decoded as UTF-8, as torch.load does), bytes and bytearray →
 * Uint8Array (views into the input), list and tuple → arrays, dict → Map (keys keep their type
 * and order), set and frozenset → Set. Every read is bounds-checked, and limits on nesting,
 * memo, stack and total work keep a hostile file from hanging or exhausting memory: every
 * defect is an `InputError` naming the source, the byte offset and the opcode.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PickleCall } from "./pickle_value.ts";
 * // pickle.dumps({"w": [1, 2.5]}, protocol=2) with its memo writes removed, then a call of
 * // os.system that must stay a placeholder
 * const bytes = Uint8Array.from([
 *   0x80, 0x02, 0x7d, 0x58, 1, 0, 0, 0, 0x77, 0x5d, 0x28, 0x4b, 1,
 *   0x47, 0x40, 0x04, 0, 0, 0, 0, 0, 0, 0x65, 0x73, 0x2e,
 * ]);
 * const { value } = decodePickle(bytes, "tiny.pkl");
 * assert.deepEqual(value, new Map([["w", [1, 2.5]]]));
 * const evil = new TextEncoder().encode("cos\nsystem\n(S'echo hi'\ntR.");
 * assert.throws(() => decodePickle(evil, "evil.pkl"), /STRING/); // protocol-0 str: refused
 * const calm = new TextEncoder().encode("cos\nsystem\n(Vecho hi\ntR.");
 * const call = decodePickle(calm, "calm.pkl").value as PickleCall;
 * assert.deepEqual([call.kind, call.callee, call.args], [
 *   "call",
 *   { kind: "global", module: "os", name: "system" },
 *   ["echo hi"],
 * ]);
 * ```
 */

import { InputError } from "./errors.ts";
import { type CallSite, interpretCall } from "./pickle_calls.ts";
import {
  classNameOf,
  clip,
  describe,
  isCall,
  isGlobal,
  type PickleValue,
  placeholder,
} from "./pickle_value.ts";

export * from "./pickle_value.ts";

export interface PickleLimits {
  /** MARKs open at once (each level of nested list/dict/tuple literals opens one) */
  maxDepth: number;
  /** memo entries */
  maxMemo: number;
  /** values on one level of the stack */
  maxStack: number;
  /** elements copied into containers or converted, in total: bounds the work per file */
  maxElements: number;
  /** bytes of one binary integer (LONG4); decimal integers stop at 4300 digits as in Python */
  maxIntBytes: number;
}

export const DEFAULT_PICKLE_LIMITS: Readonly<PickleLimits> = {
  maxDepth: 1000,
  maxMemo: 1 << 24,
  maxStack: 1 << 24,
  maxElements: 1 << 26,
  maxIntBytes: 1 << 12,
};

export interface PickleOptions {
  /** byte offset of the pickle in `bytes` (torch's legacy format holds several in a row) */
  start?: number;
  /** resolves a PERSID/BINPERSID id; without it a persistent id is an InputError */
  persistentLoad?: (pid: PickleValue, at: number) => PickleValue;
  /** decodes the bytes given to `torch.storage._load_from_bytes`; without it, a placeholder */
  loadFromBytes?: (blob: Uint8Array, at: number) => PickleValue;
  limits?: Partial<PickleLimits>;
}

/** Decodes the pickle starting at `options.start`; `end` is the offset just past its STOP. */
export function decodePickle(
  bytes: Uint8Array,
  source: string,
  options: PickleOptions = {},
): { value: PickleValue; end: number } {
  return new Decoder(bytes, source, options).run();
}

// Opcodes by name; the values are the bytes of the stream.
const Op = {
  MARK: 0x28,
  STOP: 0x2e,
  POP: 0x30,
  POP_MARK: 0x31,
  DUP: 0x32,
  FLOAT: 0x46,
  INT: 0x49,
  BININT: 0x4a,
  BININT1: 0x4b,
  LONG: 0x4c,
  BININT2: 0x4d,
  NONE: 0x4e,
  PERSID: 0x50,
  BINPERSID: 0x51,
  REDUCE: 0x52,
  STRING: 0x53,
  BINSTRING: 0x54,
  SHORT_BINSTRING: 0x55,
  UNICODE: 0x56,
  BINUNICODE: 0x58,
  APPEND: 0x61,
  BUILD: 0x62,
  GLOBAL: 0x63,
  DICT: 0x64,
  EMPTY_DICT: 0x7d,
  APPENDS: 0x65,
  GET: 0x67,
  BINGET: 0x68,
  INST: 0x69,
  LONG_BINGET: 0x6a,
  LIST: 0x6c,
  EMPTY_LIST: 0x5d,
  OBJ: 0x6f,
  PUT: 0x70,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  SETITEM: 0x73,
  TUPLE: 0x74,
  EMPTY_TUPLE: 0x29,
  SETITEMS: 0x75,
  BINFLOAT: 0x47,
  PROTO: 0x80,
  NEWOBJ: 0x81,
  EXT1: 0x82,
  EXT2: 0x83,
  EXT4: 0x84,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  BINBYTES: 0x42,
  SHORT_BINBYTES: 0x43,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f,
  ADDITEMS: 0x90,
  FROZENSET: 0x91,
  NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
  BYTEARRAY8: 0x96,
  NEXT_BUFFER: 0x97,
  READONLY_BUFFER: 0x98,
} as const;

const OP_NAMES = new Map<number, string>(Object.entries(Op).map(([name, code]) => [code, name]));

const HIGHEST_PROTOCOL = 5;
const MAX_DECIMAL_DIGITS = 4300; // Python's own limit on int(str); longer parses are quadratic
const utf8 = new TextDecoder("utf-8");
const latin1 = new TextDecoder("latin1");

class Decoder implements CallSite {
  private readonly view: DataView;
  private readonly limits: PickleLimits;
  private pos: number;
  private opStart = 0;
  private op = 0;
  private stack: PickleValue[] = [];
  private readonly marks: PickleValue[][] = [];
  private readonly memo = new Map<number, PickleValue>();
  private elements = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly source: string,
    private readonly options: PickleOptions,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.limits = { ...DEFAULT_PICKLE_LIMITS, ...options.limits };
    this.pos = options.start ?? 0;
  }

  fail(message: string): never {
    const op = OP_NAMES.get(this.op) ?? `0x${this.op.toString(16).padStart(2, "0")}`;
    throw new InputError(`${this.source}: pickle ${op} at byte offset ${this.opStart}: ${message}`);
  }

  /** Counts `n` elements of work against the file's budget. */
  charge(n: number): void {
    this.elements += n;
    if (this.elements > this.limits.maxElements) {
      this.fail(
        `more than ${this.limits.maxElements} elements in total (a hostile or damaged file)`,
      );
    }
  }

  run(): { value: PickleValue; end: number } {
    const { bytes } = this;
    if (this.pos < 0 || this.pos >= bytes.length) {
      this.opStart = this.pos;
      throw new InputError(
        `${this.source}: expected a pickle at byte offset ${this.pos}, found the end of the data`,
      );
    }
    while (this.pos < bytes.length) {
      this.opStart = this.pos;
      this.op = bytes[this.pos++];
      if (this.op === Op.STOP) return { value: this.pop(), end: this.pos };
      this.step(this.op);
    }
    this.opStart = this.pos;
    this.op = -1;
    throw new InputError(
      `${this.source}: the pickle ends at byte offset ${this.pos} without a STOP (truncated file?)`,
    );
  }

  private step(op: number): void {
    switch (op) {
      case Op.PROTO: {
        const version = this.u8();
        if (version > HIGHEST_PROTOCOL) {
          this.fail(`protocol ${version} is newer than the highest known, ${HIGHEST_PROTOCOL}`);
        }
        return;
      }
      case Op.FRAME: // frames only group opcodes for buffered reading; the data is all here
        this.length64();
        return;
      case Op.MARK:
        if (this.marks.length >= this.limits.maxDepth) {
          this.fail(`more than ${this.limits.maxDepth} MARKs open (nesting too deep)`);
        }
        this.marks.push(this.stack);
        this.stack = [];
        return;
      case Op.POP:
        if (this.stack.length > 0) this.stack.pop();
        else this.popMark();
        return;
      case Op.POP_MARK:
        this.popMark();
        return;
      case Op.DUP:
        this.push(this.top());
        return;

      case Op.NONE:
        return this.push(null);
      case Op.NEWTRUE:
        return this.push(true);
      case Op.NEWFALSE:
        return this.push(false);
      case Op.BININT:
        return this.push(this.view.getInt32(this.advance(4), true));
      case Op.BININT1:
        return this.push(this.u8());
      case Op.BININT2:
        return this.push(this.view.getUint16(this.advance(2), true));
      case Op.LONG1:
        return this.push(this.littleEndianInt(this.u8()));
      case Op.LONG4: {
        const n = this.view.getInt32(this.advance(4), true);
        if (n < 0) this.fail(`negative byte count ${n}`);
        if (n > this.limits.maxIntBytes) {
          this.fail(`a ${n}-byte integer exceeds the ${this.limits.maxIntBytes}-byte limit`);
        }
        return this.push(this.littleEndianInt(n));
      }
      case Op.INT:
        return this.push(this.decimalInt(this.line(), true));
      case Op.LONG:
        return this.push(this.decimalInt(this.line().replace(/L$/, ""), false));
      case Op.BINFLOAT:
        return this.push(this.view.getFloat64(this.advance(8), false));
      case Op.FLOAT:
        return this.push(this.decimalFloat(this.line()));

      case Op.SHORT_BINUNICODE:
        return this.push(utf8.decode(this.take(this.u8())));
      case Op.BINUNICODE:
        return this.push(utf8.decode(this.take(this.u32())));
      case Op.BINUNICODE8:
        return this.push(utf8.decode(this.take(this.length64())));
      case Op.UNICODE:
        return this.push(rawUnicodeEscape(this.lineBytes(), (m) => this.fail(m)));
      case Op.SHORT_BINSTRING:
        return this.push(utf8.decode(this.take(this.u8())));
      case Op.BINSTRING: {
        const n = this.view.getInt32(this.advance(4), true);
        if (n < 0) this.fail(`negative length ${n}`);
        return this.push(utf8.decode(this.take(n)));
      }
      case Op.STRING:
        return this.fail("Python 2 text strings (STRING, protocol 0) are not supported");
      case Op.SHORT_BINBYTES:
        return this.push(this.take(this.u8()));
      case Op.BINBYTES:
        return this.push(this.take(this.u32()));
      case Op.BINBYTES8:
      case Op.BYTEARRAY8:
        return this.push(this.take(this.length64()));

      case Op.EMPTY_TUPLE:
      case Op.EMPTY_LIST:
        return this.push([]);
      case Op.TUPLE:
      case Op.LIST:
        return this.push(this.popMark());
      case Op.TUPLE1:
      case Op.TUPLE2:
      case Op.TUPLE3: {
        const n = op - Op.TUPLE1 + 1;
        if (this.stack.length < n) {
          this.fail(`needs ${n} values, the stack holds ${this.stack.length}`);
        }
        return this.push(this.stack.splice(this.stack.length - n, n));
      }
      case Op.APPEND: {
        const item = this.pop();
        return this.appendTo(this.top(), [item]);
      }
      case Op.APPENDS: {
        const items = this.popMark();
        return this.appendTo(this.top(), items);
      }
      case Op.EMPTY_DICT:
        return this.push(new Map());
      case Op.DICT: {
        const dict = new Map<PickleValue, PickleValue>();
        this.setItems(dict, this.popMark());
        return this.push(dict);
      }
      case Op.SETITEM: {
        const value = this.pop(), key = this.pop();
        return this.setItems(this.top(), [key, value]);
      }
      case Op.SETITEMS: {
        const items = this.popMark();
        return this.setItems(this.top(), items);
      }
      case Op.EMPTY_SET:
        return this.push(new Set());
      case Op.ADDITEMS: {
        const items = this.popMark(), target = this.top();
        if (!(target instanceof Set)) {
          this.fail(`expected a set below the MARK, found ${describe(target)}`);
        }
        this.charge(items.length);
        for (const item of items) target.add(item);
        return;
      }
      case Op.FROZENSET: {
        const items = this.popMark();
        this.charge(items.length);
        return this.push(new Set(items));
      }

      case Op.GLOBAL: {
        const module = this.line(), name = this.line();
        return this.push({ kind: "global", module, name });
      }
      case Op.STACK_GLOBAL: {
        const name = this.pop(), module = this.pop();
        if (typeof module !== "string" || typeof name !== "string") {
          this.fail(`expected two strings, found ${describe(module)} and ${describe(name)}`);
        }
        return this.push({ kind: "global", module, name });
      }
      case Op.REDUCE: {
        const args = this.pop(), callee = this.pop();
        return this.push(this.call(callee, this.tuple(args, "arguments"), null, false));
      }
      case Op.NEWOBJ: {
        const args = this.pop(), cls = this.pop();
        return this.push(this.call(cls, this.tuple(args, "arguments"), null, true));
      }
      case Op.NEWOBJ_EX: {
        const kwargs = this.pop(), args = this.pop(), cls = this.pop();
        if (!(kwargs instanceof Map)) {
          this.fail(`expected keyword arguments, found ${describe(kwargs)}`);
        }
        return this.push(this.call(cls, this.tuple(args, "arguments"), kwargs, true));
      }
      case Op.OBJ: {
        const items = this.popMark();
        if (items.length === 0) this.fail("expected a class after the MARK, found nothing");
        return this.push(this.call(items[0], items.slice(1), null, true));
      }
      case Op.INST: {
        const module = this.line(), name = this.line();
        const args = this.popMark();
        return this.push(this.call({ kind: "global", module, name }, args, null, true));
      }
      case Op.BUILD: {
        const state = this.pop();
        return this.build(this.top(), state);
      }
      case Op.PERSID:
        return this.push(this.persistent(this.line()));
      case Op.BINPERSID:
        return this.push(this.persistent(this.pop()));

      case Op.PUT:
        return this.remember(this.index(this.line()));
      case Op.BINPUT:
        return this.remember(this.u8());
      case Op.LONG_BINPUT:
        return this.remember(this.u32());
      case Op.MEMOIZE:
        return this.remember(this.memo.size);
      case Op.GET:
        return this.recall(this.index(this.line()));
      case Op.BINGET:
        return this.recall(this.u8());
      case Op.LONG_BINGET:
        return this.recall(this.u32());

      case Op.READONLY_BUFFER: // marks the buffer on top read-only: nothing to do for data
        this.top();
        return;
      case Op.NEXT_BUFFER:
        return this.fail("out-of-band buffers (protocol 5) are not supported");
      case Op.EXT1:
      case Op.EXT2:
      case Op.EXT4:
        return this.fail("the copyreg extension registry is not supported");
      default:
        return this.fail("unknown opcode (not a pickle, or a damaged one)");
    }
  }

  // ---- reading ----

  private need(n: number): void {
    const left = this.bytes.length - this.pos;
    if (n > left) this.fail(`needs ${n} more bytes, but only ${left} remain (truncated file?)`);
  }

  /** Checks `n` bytes are there and returns the offset they start at. */
  private advance(n: number): number {
    this.need(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private take(n: number): Uint8Array {
    const at = this.advance(n);
    return this.bytes.subarray(at, at + n);
  }

  private u8(): number {
    return this.bytes[this.advance(1)];
  }

  private u32(): number {
    return this.view.getUint32(this.advance(4), true);
  }

  /** An 8-byte length, refused before anything is allocated when the data cannot hold it. */
  private length64(): number {
    const n = this.view.getBigUint64(this.advance(8), true);
    const left = this.bytes.length - this.pos;
    if (n > BigInt(left)) this.fail(`declares ${n} bytes, but only ${left} remain`);
    return Number(n);
  }

  private lineBytes(): Uint8Array {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail("expected a newline-terminated argument, found the end of the data");
    const line = this.bytes.subarray(this.pos, end);
    this.pos = end + 1;
    return line;
  }

  private line(): string {
    return utf8.decode(this.lineBytes());
  }

  private littleEndianInt(n: number): number | bigint {
    const b = this.take(n);
    if (n === 0) return 0;
    this.charge(n);
    let hex = "";
    for (let i = n - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, "0");
    let v = BigInt(`0x${hex}`);
    if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return toNumberIfSafe(v);
  }

  private decimalInt(text: string, allowBool: boolean): number | bigint | boolean {
    if (allowBool && text === "00") return false;
    if (allowBool && text === "01") return true;
    if (!/^[+-]?\d+$/.test(text)) this.fail(`expected a decimal integer, found "${clip(text)}"`);
    if (text.length > MAX_DECIMAL_DIGITS) {
      this.fail(`a ${text.length}-digit integer exceeds the ${MAX_DECIMAL_DIGITS}-digit limit`);
    }
    return toNumberIfSafe(BigInt(text));
  }

  private decimalFloat(text: string): number {
    const special: Record<string, number> = {
      inf: Infinity,
      "+inf": Infinity,
      "-inf": -Infinity,
      infinity: Infinity,
      "-infinity": -Infinity,
      nan: NaN,
      "-nan": NaN,
    };
    const lower = text.toLowerCase();
    if (lower in special) return special[lower];
    if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) {
      this.fail(`expected a decimal float, found "${clip(text)}"`);
    }
    return Number(text);
  }

  private index(text: string): number {
    if (!/^\d{1,15}$/.test(text)) this.fail(`expected a memo index, found "${clip(text)}"`);
    return Number(text);
  }

  // ---- the stack ----

  private push(v: PickleValue): void {
    if (this.stack.length >= this.limits.maxStack) {
      this.fail(`more than ${this.limits.maxStack} values on the stack`);
    }
    this.stack.push(v);
  }

  private pop(): PickleValue {
    if (this.stack.length === 0) this.fail("the stack is empty (stack underflow)");
    return this.stack.pop()!;
  }

  private top(): PickleValue {
    if (this.stack.length === 0) this.fail("the stack is empty (stack underflow)");
    return this.stack[this.stack.length - 1];
  }

  private popMark(): PickleValue[] {
    const below = this.marks.pop();
    if (below === undefined) this.fail("no MARK to pop back to");
    const items = this.stack;
    this.stack = below;
    return items;
  }

  private remember(index: number): void {
    if (!this.memo.has(index) && this.memo.size >= this.limits.maxMemo) {
      this.fail(`more than ${this.limits.maxMemo} memo entries`);
    }
    this.memo.set(index, this.top());
  }

  private recall(index: number): void {
    if (!this.memo.has(index)) this.fail(`memo entry ${index} was never stored`);
    this.push(this.memo.get(index)!);
  }

  // ---- building ----

  private tuple(v: PickleValue, what: string): PickleValue[] {
    if (!Array.isArray(v)) this.fail(`expected a tuple of ${what}, found ${describe(v)}`);
    return v;
  }

  private appendTo(target: PickleValue, items: PickleValue[]): void {
    this.charge(items.length);
    if (Array.isArray(target)) { for (const item of items) target.push(item); }
    else if (isCall(target)) target.items.push(...items);
    else this.fail(`cannot append to ${describe(target)}`);
  }

  private setItems(target: PickleValue, items: PickleValue[]): void {
    if (items.length % 2 !== 0) this.fail(`expected key/value pairs, found ${items.length} values`);
    this.charge(items.length);
    const into = target instanceof Map ? target : isCall(target) ? target.entries : undefined;
    if (into === undefined) this.fail(`cannot set items on ${describe(target)}`);
    for (let i = 0; i < items.length; i += 2) into.set(items[i], items[i + 1]);
  }

  private build(target: PickleValue, state: PickleValue): void {
    if (isCall(target)) {
      // BUILD updates the instance __dict__, so a second BUILD merges into the first
      if (target.state instanceof Map && state instanceof Map) {
        this.charge(state.size);
        for (const [k, v] of state) target.state.set(k, v);
      } else target.state = state;
      return;
    }
    // the state of a tensor (hooks), of a dict subclass such as a state_dict's OrderedDict
    // (its `_metadata` versions) or of a class object carries no data this reader needs
    if (typeof target === "object" && target !== null) return;
    this.fail(`cannot set the state of ${describe(target)}`);
  }

  private persistent(pid: PickleValue): PickleValue {
    const load = this.options.persistentLoad;
    if (load === undefined) {
      this.fail("a persistent id, but this file kind has no persistent storage to resolve it");
    }
    return load(pid, this.opStart);
  }

  /** A call: interpreted when the callee is on the allow-list, else a placeholder. */
  call(
    callee: PickleValue,
    args: PickleValue[],
    kwargs: Map<PickleValue, PickleValue> | null,
    instantiates: boolean,
  ): PickleValue {
    if (isGlobal(callee) && (kwargs === null || kwargs.size === 0)) {
      const value = interpretCall(this, callee, args);
      if (value !== undefined) return value;
    }
    return placeholder(callee, args, kwargs, instantiates ? classNameOf(callee) : null);
  }

  loadFromBytes(blob: Uint8Array): PickleValue | undefined {
    return this.options.loadFromBytes?.(blob, this.opStart);
  }

  /** A list of dimensions (sizes or strides): at most 64 non-negative integers. */
  dims(v: PickleValue, what: string): number[] {
    if (!Array.isArray(v) || v.length > 64 || !v.every(isCount)) {
      this.fail(`a tensor's ${what} must be up to 64 non-negative integers, found ${describe(v)}`);
    }
    this.charge(v.length);
    return v as number[];
  }
}

// ---- helpers ----

const isCount = (v: PickleValue): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

function toNumberIfSafe(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

/**
 * Python's raw-unicode-escape: latin-1 bytes, except `\uXXXX` and `\UXXXXXXXX` (protocol 0
 * writes every backslash of the text itself as \u005c, so a backslash always starts one).
 */
function rawUnicodeEscape(b: Uint8Array, fail: (m: string) => never): string {
  let out = "";
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    const width = c === 0x5c ? (b[i + 1] === 0x75 ? 4 : b[i + 1] === 0x55 ? 8 : 0) : 0;
    if (width === 0) {
      out += String.fromCharCode(c);
      continue;
    }
    const hex = latin1.decode(b.subarray(i + 2, i + 2 + width));
    if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) fail(`malformed escape "\\${hex}"`);
    const code = parseInt(hex, 16);
    if (code > 0x10ffff) fail(`escape \\U${hex} is beyond Unicode`);
    out += String.fromCodePoint(code);
    i += 1 + width;
  }
  return out;
}
