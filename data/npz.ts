/**
 * NumPy `.npz` archives: a zip of `.npy` members (stored or deflated; numpy forces zip64
 * headers, which fflate reads). Members are returned as raw `.npy` bytes under numpy's own keys
 * (the name without `.npy`), and `npyBytes` views a uint8 member's data without copying.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zipSync } from "fflate";
 * import { encodeNpyF32 } from "../io/npy_write.ts";
 * // np.savez's layout: a zip holding one .npy per array
 * const dir = await Deno.makeTempDir();
 * const npz = zipSync({ "data.npy": encodeNpyF32([1, 2, 3, 4, 5, 6], [2, 3]) });
 * await Deno.writeFile(`${dir}/val_data.npz`, npz);
 * const members = await readNpz(`${dir}/val_data.npz`);
 * const data = npyBytes(members.get("data")!, "val_data.npz: data"); // 2 × 3 float32 values
 * assert.deepEqual([data.dtype, data.shape, data.data.length], ["<f4", [2, 3], 24]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */

import { unzipSync } from "fflate";
import { sizeOf } from "../compute/mod.ts";
import { InputError } from "../io/errors.ts";

/** Reads an .npz file into its members' .npy bytes, keyed as numpy's `np.load` keys them. */
export async function readNpz(path: string): Promise<Map<string, Uint8Array>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new InputError(`${path}: cannot read the file (${e instanceof Error ? e.message : e})`);
  }
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw new InputError(
      `${path}: expected an .npz (zip) archive, the unzipper says: ${
        e instanceof Error ? e.message : e
      }`,
    );
  }
  return new Map(Object.entries(files).map(([name, b]) => [name.replace(/\.npy$/, ""), b]));
}

/** A .npy member's header and its data bytes, uninterpreted. */
export interface NpyBytes {
  /** the stored descriptor, e.g. "|u1" */
  dtype: string;
  shape: number[];
  /** the C-order data, a view into the member */
  data: Uint8Array;
}

/**
 * Parses a .npy header (versions 1–3) and returns the data bytes as a view. `io/npy.ts`'s
 * `parseNpy` widens every element to float64, which for one ImageNet-32 training batch
 * (128,116 × 3072 bytes) would take 3 GB; image data stays bytes here.
 */
export function npyBytes(bytes: Uint8Array, source: string): NpyBytes {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) {
    throw new InputError(`${source}: expected a .npy member (magic \\x93NUMPY), found other bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const start = major === 1 ? 10 : 12;
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const header = new TextDecoder("latin1").decode(bytes.subarray(start, start + headerLen));
  const dtype = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!dtype || !fortran || shapeText === undefined) {
    throw new InputError(`${source}: malformed .npy header: ${header.trim()}`);
  }
  if (fortran === "True") {
    throw new InputError(`${source}: expected C order, found a Fortran-ordered array`);
  }
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  const itemSize = Number(/(\d+)$/.exec(dtype)?.[1] ?? NaN);
  const need = sizeOf(shape) * itemSize, offset = start + headerLen;
  if (!(bytes.length - offset >= need)) {
    throw new InputError(
      `${source}: truncated: shape (${shape.join(", ")}) of ${dtype} needs ${need} data bytes ` +
        `from offset ${offset}, found ${bytes.length - offset}`,
    );
  }
  return { dtype, shape, data: bytes.subarray(offset, offset + need) };
}
