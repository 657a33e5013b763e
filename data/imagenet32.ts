/**
 * `imagenet32:DIR`: the official downsampled ImageNet 32 × 32 batches (Chrabaszcz et al. 2017):
 * train is `train_data_batch_1.npz` … `train_data_batch_10.npz` in that order, test is
 * `val_data.npz`, each looked for in DIR and then in the unpacked archives' folders
 * `DIR/Imagenet32_train_npz/` and `DIR/Imagenet32_val_npz/`. Each holds `data` (uint8,
 * N × 3072, the red, green and blue 32 × 32 planes in turn, as CIFAR-10) and `labels` (N
 * integers 1 … 1000, stored here 0-based); other members (the train batches' `mean`) are
 * ignored. Loading all of train holds the batches and the result at once (about 8 GB); `limit`
 * reads only the batch files it needs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zipSync } from "fflate";
 * // a .npy of unsigned bytes: magic, version 1.0, header length, header, data
 * const npyU8 = (shape: string, data: Uint8Array) => {
 *   const header = `{'descr': '|u1', 'fortran_order': False, 'shape': ${shape}, }\n`;
 *   const magic = [0x93, ...new TextEncoder().encode("NUMPY"), 1, 0, header.length, 0];
 *   return new Uint8Array([...magic, ...new TextEncoder().encode(header), ...data]);
 * };
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/val_data.npz`, zipSync({
 *   "data.npy": npyU8("(2, 3072)", new Uint8Array(2 * 3072)),
 *   "labels.npy": npyU8("(2,)", Uint8Array.of(1, 17)), // classes 1 … 1000
 * }));
 * const val = await loadImagenet32(dir, "test", 1);
 * assert.deepEqual([val.n, val.shape], [1, [3, 32, 32]]);
 * assert.equal(val.labels![0], 0); // 0 … 999
 * await Deno.remove(dir, { recursive: true });
 * ```
 */

import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { parseNpy } from "../io/npy.ts";
import type { ImageSet, Split } from "./image_set.ts";
import { npyBytes, readNpz } from "./npz.ts";

const PIXELS = 3 * 32 * 32, CLASSES = 1000;
const INTEGER_DTYPES = ["|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<i8"];

async function locate(dir: string, name: string, folder: string): Promise<string> {
  for (const path of [join(dir, name), join(dir, folder, name)]) {
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
    `imagenet32:${dir}: expected ${name} in ${dir} or ${join(dir, folder)}, found neither`,
  );
}

/** One batch file's images (a view) and 0-based labels, validated. */
async function readBatch(path: string): Promise<{ pixels: Uint8Array; labels: Int32Array }> {
  const members = await readNpz(path);
  const member = (key: string) => {
    const b = members.get(key);
    if (!b) {
      throw new InputError(
        `${path}: expected a member "${key}", found ${
          [...members.keys()].map((k) => `"${k}"`).join(", ") || "none"
        }`,
      );
    }
    return b;
  };
  const data = npyBytes(member("data"), `${path}: data`);
  if (data.dtype !== "|u1") {
    throw new InputError(`${path}: data: expected dtype |u1 (uint8), found ${data.dtype}`);
  }
  if (data.shape.length !== 2 || data.shape[1] !== PIXELS) {
    throw new InputError(
      `${path}: data: expected shape (N, ${PIXELS}), found (${data.shape.join(", ")})`,
    );
  }
  const n = data.shape[0];
  const raw = parseNpy(member("labels"), `${path}: labels`);
  if (!INTEGER_DTYPES.includes(raw.dtype)) {
    throw new InputError(`${path}: labels: expected an integer dtype, found ${raw.dtype}`);
  }
  if (raw.shape.length !== 1 || raw.shape[0] !== n) {
    throw new InputError(
      `${path}: labels: expected shape (${n},), one per image, found (${raw.shape.join(", ")})`,
    );
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = raw.data[i];
    if (!(l >= 1 && l <= CLASSES)) {
      throw new InputError(`${path}: labels: label ${i} is ${l}, expected 1 … ${CLASSES}`);
    }
    labels[i] = l - 1;
  }
  return { pixels: data.data, labels };
}

/** One split of ImageNet-32; `limit` keeps the first N images and skips later batch files. */
export async function loadImagenet32(
  dir: string,
  split: Split,
  limit = Infinity,
): Promise<ImageSet> {
  const names = split === "train"
    ? Array.from({ length: 10 }, (_, b) => `train_data_batch_${b + 1}.npz`)
    : ["val_data.npz"];
  const folder = split === "train" ? "Imagenet32_train_npz" : "Imagenet32_val_npz";
  // every file must be there before the first (slow) one is read
  const paths = await Promise.all(names.map((name) => locate(dir, name, folder)));
  const parts: { pixels: Uint8Array; labels: Int32Array }[] = [];
  let n = 0;
  for (const path of paths) {
    if (n >= limit) break;
    const part = await readBatch(path);
    const take = Math.min(part.labels.length, limit - n);
    parts.push({
      pixels: part.pixels.subarray(0, take * PIXELS),
      labels: part.labels.subarray(0, take),
    });
    n += take;
  }
  const pixels = new Uint8Array(n * PIXELS), labels = new Int32Array(n);
  let at = 0;
  for (const part of parts) {
    pixels.set(part.pixels, at * PIXELS);
    labels.set(part.labels, at);
    at += part.labels.length;
  }
  return {
    n,
    shape: [3, 32, 32],
    pixels,
    labels,
    bits: 8,
    description: `imagenet32 ${split} (${n} images 3×32×32 from ${dir})`,
  };
}
