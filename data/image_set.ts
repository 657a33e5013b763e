/**
 * Image datasets in their official formats behind one type and one `--data` spec resolver:
 * `mnist` (bundled), `fashion-mnist[:DIR]` (IDX), `cifar10:DIR` (binary batches),
 * `imagenet32:DIR` (.npz batches) and `images:DIR` (a folder of PNGs).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * // a CIFAR-10 test batch of two records: a label byte, then 3 × 32 × 32 pixel bytes each
 * const dir = await Deno.makeTempDir();
 * const records = new Uint8Array(2 * 3073);
 * [3, 8].forEach((label, r) => (records[r * 3073] = label));
 * await Deno.writeFile(`${dir}/test_batch.bin`, records);
 * assert.ok(isImageSpec(`cifar10:${dir}`));
 * const test = await loadImageSpec(`cifar10:${dir}`, "test");
 * assert.deepEqual(test.shape, [3, 32, 32]);
 * assert.equal(test.pixels.length, test.n * 3 * 32 * 32);
 * assert.deepEqual(test.labels, Int32Array.of(3, 8));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */

import { UsageError } from "../io/errors.ts";
import { expandHome } from "../io/home_path.ts";
import { loadCifar10 } from "./cifar10.ts";
import { loadFashionMnist } from "./idx.ts";
import { loadImageFolder } from "./image_folder.ts";
import { loadImagenet32 } from "./imagenet32.ts";
import { loadMnist } from "./mnist.ts";

/** n images of one shape, stored as integer levels 0 … 2^bits − 1. */
export interface ImageSet {
  n: number;
  /** [C, H, W] */
  shape: [number, number, number];
  /** n·C·H·W levels, one image after another, each in C, H, W order (planes, rows, columns) */
  pixels: Uint8Array;
  /** one class per image (0-based), or null when the format has none */
  labels: Int32Array | null;
  /** bits per level (8 for every format read here) */
  bits: number;
  /** one line for logs and reports, naming the source, the split and the size */
  description: string;
}

export type Split = "train" | "test";

/** The spec kinds (the part before the first ':') that name image data. */
export const IMAGE_SPEC_KINDS: readonly string[] = [
  "mnist",
  "fashion-mnist",
  "cifar10",
  "imagenet32",
  "images",
];

const FORMS = "mnist, fashion-mnist[:DIR], cifar10:DIR, imagenet32:DIR or images:DIR";
const FASHION_DIR = "/usr/share/datasets/fashion-mnist";

/**
 * True when `spec` is of an image kind. A malformed one (`cifar10` without DIR) is still
 * claimed, so that `loadImageSpec` can say which forms are accepted rather than the caller
 * reporting an unknown spec.
 */
export function isImageSpec(spec: string): boolean {
  return IMAGE_SPEC_KINDS.includes(kindOf(spec));
}

/**
 * Loads one split of an image spec. `limit` keeps the first N images of the split; where the
 * format allows, the rest is not read (CIFAR-10 and ImageNet-32 skip whole batch files, CIFAR-10
 * reads only the needed records of the last one, a PNG folder decodes only the N files).
 * Throws UsageError for a malformed spec or limit, InputError for a missing or bad file.
 */
export async function loadImageSpec(
  spec: string,
  split: Split,
  opts: { limit?: number } = {},
): Promise<ImageSet> {
  const limit = opts.limit ?? Infinity;
  if (limit !== Infinity && !(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new UsageError(`--limit: expected a positive integer, found ${opts.limit}`);
  }
  if (split !== "train" && split !== "test") {
    throw new UsageError(`--split: expected train or test, found ${JSON.stringify(split)}`);
  }
  const kind = kindOf(spec);
  const colon = spec.indexOf(":");
  const dir = colon < 0 ? null : spec.slice(colon + 1);
  if (dir === "") throw bad(spec, `${kind}: needs a directory after the colon`);
  const expanded = dir === null ? null : expandHome(dir);
  switch (kind) {
    case "mnist":
      if (dir !== null) throw bad(spec, "mnist takes no directory (the digits are bundled)");
      return loadMnist(split, limit);
    case "fashion-mnist":
      return await loadFashionMnist(expanded ?? FASHION_DIR, split, limit);
    case "cifar10":
    case "imagenet32":
    case "images":
      if (expanded === null) throw bad(spec, `${kind} needs a directory: ${kind}:DIR`);
      if (kind === "cifar10") return await loadCifar10(expanded, split, limit);
      if (kind === "imagenet32") return await loadImagenet32(expanded, split, limit);
      return await loadImageFolder(expanded, split, limit);
    default:
      throw bad(spec, "not an image spec");
  }
}

function kindOf(spec: string): string {
  const colon = spec.indexOf(":");
  return colon < 0 ? spec : spec.slice(0, colon);
}

function bad(spec: string, why: string): UsageError {
  return new UsageError(`--data ${spec}: ${why} (accepted: ${FORMS})`);
}
