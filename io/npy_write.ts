/**
 * NumPy `.npy` writer (format 1.0, little-endian float32, C order): what `sample --out x.npy`
 * writes, readable by `numpy.load` and by `io/npy.ts`.
 */

import { sizeOf } from "../compute/mod.ts";

/** The bytes of a float32 array of `shape`. */
export function encodeNpyF32(values: ArrayLike<number>, shape: readonly number[]): Uint8Array {
  const count = sizeOf(shape);
  if (count !== values.length) {
    throw new RangeError(
      `encodeNpyF32: shape [${shape}] holds ${count} values, got ${values.length}`,
    );
  }
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // magic (6) + version (2) + length (2) + header + newline, padded to a multiple of 64
  const unpadded = 10 + header.length + 1;
  header += " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + 4 * count);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  const data = new DataView(out.buffer, 10 + header.length);
  for (let i = 0; i < count; i++) data.setFloat32(4 * i, values[i], true);
  return out;
}
