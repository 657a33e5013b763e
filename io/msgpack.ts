/**
 * A MessagePack decoder (the format of flax's `flax.serialization.to_bytes`, in which JAX
 * checkpoints such as i-DODE's are saved). It decodes every type of the specification: nil,
 * booleans, integers (64-bit ones as numbers when exact, else bigint), floats, strings, binary,
 * arrays, maps (string or integer keys, as plain objects) and extension values, which come back
 * as `{ ext, data }` for the caller to interpret. Nothing is executed; every length is checked
 * against the bytes that remain, and a malformed file is an InputError naming it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * // msgpack.packb({"a": [1, -2, 1.5], "b": b"\x07"}, use_bin_type=True)
 * const bytes = Uint8Array.from([
 *   0x82, 0xa1, 0x61, 0x93, 0x01, 0xfe, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xa1, 0x62, 0xc4,
 *   0x01, 0x07,
 * ]);
 * assert.deepEqual(decodeMsgpack(bytes, "x.msgpack"), { a: [1, -2, 1.5], b: Uint8Array.of(7) });
 * ```
 */

import { InputError } from "./errors.ts";

export type MsgpackValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | MsgpackValue[]
  | MsgpackMap
  | MsgpackExt;

export interface MsgpackMap {
  [key: string]: MsgpackValue;
}

/** An extension value: its type code and its payload, uninterpreted. */
export interface MsgpackExt {
  ext: number;
  data: Uint8Array;
}

export function isMsgpackExt(v: MsgpackValue): v is MsgpackExt {
  return typeof v === "object" && v !== null && !(v instanceof Uint8Array) &&
    !Array.isArray(v) && v.data instanceof Uint8Array && typeof v.ext === "number" &&
    Object.keys(v).length === 2;
}

export function isMsgpackMap(v: MsgpackValue): v is MsgpackMap {
  return typeof v === "object" && v !== null && !(v instanceof Uint8Array) &&
    !Array.isArray(v) && !isMsgpackExt(v);
}

/** Nesting deeper than this is refused rather than recursed into. */
const MAX_DEPTH = 512;

/** Decodes one MessagePack value filling `bytes`; `file` names the source in errors. */
export function decodeMsgpack(bytes: Uint8Array, file: string): MsgpackValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder("utf-8", { fatal: false });
  let pos = 0;
  const fail = (what: string): never => {
    throw new InputError(`${file}: not a MessagePack file (${what} at byte ${pos})`);
  };
  const need = (n: number) => {
    if (pos + n > bytes.length) fail(`a value of ${n} bytes runs past the end`);
  };
  const u8 = () => (need(1), view.getUint8(pos++));
  const u16 = () => (need(2), pos += 2, view.getUint16(pos - 2));
  const u32 = () => (need(4), pos += 4, view.getUint32(pos - 4));
  const u64 = (): number | bigint => {
    need(8);
    const v = view.getBigUint64(pos);
    pos += 8;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const i64 = (): number | bigint => {
    need(8);
    const v = view.getBigInt64(pos);
    pos += 8;
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v;
  };
  const raw = (n: number) => {
    need(n);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const str = (n: number) => text.decode(raw(n));
  const ext = (n: number): MsgpackExt => {
    need(1 + n);
    const type = view.getInt8(pos++);
    return { ext: type, data: raw(n) };
  };

  const value = (depth: number): MsgpackValue => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    const b = u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return map(b & 0x0f, depth);
    if ((b & 0xf0) === 0x90) return array(b & 0x0f, depth);
    if ((b & 0xe0) === 0xa0) return str(b & 0x1f);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return raw(u8()).slice();
      case 0xc5:
        return raw(u16()).slice();
      case 0xc6:
        return raw(u32()).slice();
      case 0xc7:
        return ext(u8());
      case 0xc8:
        return ext(u16());
      case 0xc9:
        return ext(u32());
      case 0xca:
        return (need(4), pos += 4, view.getFloat32(pos - 4));
      case 0xcb:
        return (need(8), pos += 8, view.getFloat64(pos - 8));
      case 0xcc:
        return u8();
      case 0xcd:
        return u16();
      case 0xce:
        return u32();
      case 0xcf:
        return u64();
      case 0xd0:
        return (need(1), view.getInt8(pos++));
      case 0xd1:
        return (need(2), pos += 2, view.getInt16(pos - 2));
      case 0xd2:
        return (need(4), pos += 4, view.getInt32(pos - 4));
      case 0xd3:
        return i64();
      case 0xd4:
        return ext(1);
      case 0xd5:
        return ext(2);
      case 0xd6:
        return ext(4);
      case 0xd7:
        return ext(8);
      case 0xd8:
        return ext(16);
      case 0xd9:
        return str(u8());
      case 0xda:
        return str(u16());
      case 0xdb:
        return str(u32());
      case 0xdc:
        return array(u16(), depth);
      case 0xdd:
        return array(u32(), depth);
      case 0xde:
        return map(u16(), depth);
      case 0xdf:
        return map(u32(), depth);
    }
    return fail(`the unused type byte 0x${b.toString(16)}`);
  };
  const array = (n: number, depth: number): MsgpackValue[] => {
    // every element takes at least one byte: a count beyond the bytes left is malformed
    if (n > bytes.length - pos) fail(`an array of ${n} elements`);
    const out: MsgpackValue[] = [];
    for (let i = 0; i < n; i++) out.push(value(depth + 1));
    return out;
  };
  const map = (n: number, depth: number): MsgpackMap => {
    if (2 * n > bytes.length - pos) fail(`a map of ${n} entries`);
    const out: MsgpackMap = {};
    for (let i = 0; i < n; i++) {
      const key = value(depth + 1);
      if (typeof key !== "string" && typeof key !== "number") {
        fail("a map key that is not a string");
      }
      // a plain object: "__proto__" would set its prototype instead of a key
      if (key === "__proto__") fail('the map key "__proto__"');
      out[String(key)] = value(depth + 1);
    }
    return out;
  };

  const v = value(0);
  if (pos !== bytes.length) fail(`${bytes.length - pos} bytes after the value`);
  return v;
}
