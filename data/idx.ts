/**
 * IDX files (the MNIST family's format: a big-endian magic 0x000008NN — unsigned bytes, NN
 * dimensions — then NN big-endian int32 sizes, then the bytes in row-major order), plain or
 * gzipped, and `fashion-mnist[:DIR]` built on them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gzipSync } from "node:zlib";
 * // two 2 × 3 images: magic 0x00000803, the sizes 2, 2, 3 (big-endian), then the pixel bytes
 * const header = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3];
 * const pixels = [0, 50, 100, 150, 200, 250, 1, 2, 3, 4, 5, 6];
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/t10k-images-idx3-ubyte.gz`;
 * await Deno.writeFile(path, gzipSync(new Uint8Array([...header, ...pixels])));
 * const { dims, data } = await readIdx(path, 3);
 * assert.deepEqual(dims, [2, 2, 3]);
 * assert.deepEqual([...data], pixels);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */

import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { sizeOf } from "../compute/mod.ts";
import { InputError } from "../io/errors.ts";
import type { ImageSet, Split } from "./image_set.ts";

/** An IDX array of unsigned bytes. */
export interface IdxArray {
  dims: number[];
  /** ∏dims bytes, row-major */
  data: Uint8Array;
}

const hex = (v: number) => `0x${v.toString(16).padStart(8, "0")}`;

/**
 * Parses IDX bytes (already decompressed) that must hold `ndims` dimensions of unsigned bytes:
 * magic 0x00000803 for images (N × H × W), 0x00000801 for labels (N). Checks the magic, that
 * every size is positive, and that the data is exactly as long as the sizes say.
 */
export function parseIdx(bytes: Uint8Array, ndims: number, source: string): IdxArray {
  const want = 0x0800 + ndims, headerLen = 4 + 4 * ndims;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < headerLen) {
    throw new InputError(
      `${source}: ${bytes.length} bytes is shorter than the ${headerLen}-byte IDX header`,
    );
  }
  const magic = view.getUint32(0, false);
  if (magic !== want) {
    throw new InputError(
      `${source}: expected the IDX magic ${hex(want)} (unsigned bytes, ${ndims} dimensions), ` +
        `found ${hex(magic)}`,
    );
  }
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  if (dims.some((d) => d === 0)) {
    throw new InputError(`${source}: expected positive IDX sizes, found ${dims.join(" × ")}`);
  }
  const need = sizeOf(dims), found = bytes.length - headerLen;
  if (found !== need) {
    throw new InputError(
      `${source}: the header's sizes ${dims.join(" × ")} need ${need} data bytes after the ` +
        `${headerLen}-byte header, found ${found} (${
          found < need ? "truncated" : "trailing bytes"
        })`,
    );
  }
  return { dims, data: bytes.subarray(headerLen) };
}

/** Reads an IDX file, gunzipping it when its name ends in .gz or it starts with 1f 8b. */
export async function readIdx(path: string, ndims: number): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new InputError(`${path}: cannot read the file (${e instanceof Error ? e.message : e})`);
  }
  if (path.endsWith(".gz") || (bytes[0] === 0x1f && bytes[1] === 0x8b)) {
    try {
      const out = gunzipSync(bytes);
      // a plain view: Buffer's own slice() would not copy
      bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch (e) {
      throw new InputError(
        `${path}: expected gzip data, the decompressor says: ${e instanceof Error ? e.message : e}`,
      );
    }
  }
  return parseIdx(bytes, ndims, path);
}

/** `DIR/NAME.gz` when it exists, else `DIR/NAME`; neither is an error naming both. */
async function locate(dir: string, name: string): Promise<string> {
  for (const path of [join(dir, `${name}.gz`), join(dir, name)]) {
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new InputError(
          `${path}: cannot read the file (${e instanceof Error ? e.message : e})`,
        );
      }
    }
  }
  throw new InputError(
    `fashion-mnist:${dir}: expected ${join(dir, name)}.gz (or uncompressed), found neither ` +
      `(the Debian package dataset-fashion-mnist installs them in /usr/share/datasets/fashion-mnist)`,
  );
}

/**
 * One split of Fashion-MNIST from the official IDX files in `dir`
 * (`train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`, `t10k-…` for test; 28 × 28,
 * labels 0–9). A gzipped file is decompressed whole, so `limit` only trims the result.
 */
export async function loadFashionMnist(
  dir: string,
  split: Split,
  limit = Infinity,
): Promise<ImageSet> {
  const prefix = split === "train" ? "train" : "t10k";
  const imagesPath = await locate(dir, `${prefix}-images-idx3-ubyte`);
  const labelsPath = await locate(dir, `${prefix}-labels-idx1-ubyte`);
  const images = await readIdx(imagesPath, 3), labels = await readIdx(labelsPath, 1);
  const [count, h, w] = images.dims;
  if (labels.dims[0] !== count) {
    throw new InputError(
      `${labelsPath}: expected ${count} labels, one per image of ${imagesPath}, found ${
        labels.dims[0]
      }`,
    );
  }
  const bad = labels.data.findIndex((l) => l > 9);
  if (bad >= 0) {
    throw new InputError(
      `${labelsPath}: label ${bad} (byte offset ${8 + bad}) is ${labels.data[bad]}, expected 0–9`,
    );
  }
  const n = Math.min(count, limit);
  return {
    n,
    shape: [1, h, w],
    pixels: n === count ? images.data : images.data.slice(0, n * h * w),
    labels: Int32Array.from(labels.data.subarray(0, n)),
    bits: 8,
    description: `fashion-mnist ${split} (${n} images 1×${h}×${w} from ${dir})`,
  };
}
