/**
 * NumPy `.npy` reader (format versions 1–3): little-endian float64/float32 and integer arrays,
 * C order. Errors name the file, the byte offset and what was expected.
 */

import { sizeOf } from "../compute/mod.ts";
import { InputError } from "./errors.ts";

export interface NpyArray {
  shape: number[];
  data: Float64Array;
  /** the stored dtype descriptor, e.g. "<f4", "|u1" */
  dtype: string;
}

const readers: Record<string, [number, (v: DataView, o: number) => number]> = {
  "<f8": [8, (v, o) => v.getFloat64(o, true)],
  "<f4": [4, (v, o) => v.getFloat32(o, true)],
  "<i8": [8, (v, o) => Number(v.getBigInt64(o, true))],
  "<i4": [4, (v, o) => v.getInt32(o, true)],
  "<i2": [2, (v, o) => v.getInt16(o, true)],
  "|i1": [1, (v, o) => v.getInt8(o)],
  "|u1": [1, (v, o) => v.getUint8(o)],
  "<u2": [2, (v, o) => v.getUint16(o, true)],
  "<u4": [4, (v, o) => v.getUint32(o, true)],
};

export function parseNpy(bytes: Uint8Array, source: string): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) {
    throw new InputError(
      `${source}: not a .npy file (expected the magic bytes \\x93NUMPY at offset 0)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, headerStart + headerLen),
  );
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) {
    throw new InputError(
      `${source}: malformed .npy header at offset ${headerStart}: ${header.trim()}`,
    );
  }
  if (fortran === "True") {
    throw new InputError(`${source}: Fortran-ordered arrays are not supported; save in C order`);
  }
  const reader = readers[descr.replace("=", "<")];
  if (!reader) {
    throw new InputError(
      `${source}: dtype ${descr} is not supported (expected one of ${
        Object.keys(readers).join(", ")
      })`,
    );
  }
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  const n = sizeOf(shape);
  const offset = headerStart + headerLen;
  const [size, read] = reader;
  if (bytes.length < offset + n * size) {
    throw new InputError(
      `${source}: truncated: shape (${shape.join(", ")}) needs ${
        n * size
      } data bytes from offset ${offset}, ` +
        `found ${bytes.length - offset}`,
    );
  }
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = read(view, offset + i * size);
  return { shape, data, dtype: descr };
}
