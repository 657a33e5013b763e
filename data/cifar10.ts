/**
 * `cifar10:DIR`: the official CIFAR-10 binary version. Train is `data_batch_1.bin` …
 * `data_batch_5.bin` in that order, test is `test_batch.bin`, found in DIR or in the archive's
 * `DIR/cifar-10-batches-bin/`. Each record is 1 label byte (0–9) and 3072 pixel bytes: the
 * 1024 red, then green, then blue values of a 32 × 32 image, rows first — already C, H, W.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * // the binary version's test batch as unpacked: a label byte, then 3 × 32 × 32 bytes per record
 * const dir = await Deno.makeTempDir();
 * const records = new Uint8Array(3 * 3073);
 * [7, 2, 9].forEach((label, r) => (records[r * 3073] = label));
 * await Deno.mkdir(`${dir}/cifar-10-batches-bin`);
 * await Deno.writeFile(`${dir}/cifar-10-batches-bin/test_batch.bin`, records);
 * const test = await loadCifar10(dir, "test", 2); // reads 2 records only
 * assert.deepEqual(test.shape, [3, 32, 32]);
 * assert.deepEqual(test.labels, Int32Array.of(7, 2));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */

import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import type { ImageSet, Split } from "./image_set.ts";

const SUBFOLDER = "cifar-10-batches-bin";
const PIXELS = 3 * 32 * 32, RECORD = 1 + PIXELS;

const TRAIN = [1, 2, 3, 4, 5].map((b) => `data_batch_${b}.bin`);

async function sizeOf(path: string): Promise<number | null> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? info.size : null;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new InputError(`${path}: cannot read the file (${e instanceof Error ? e.message : e})`);
  }
}

/** The first `bytes` bytes of a file (all of it when it is that long). */
async function readPrefix(path: string, bytes: number): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    const out = new Uint8Array(bytes);
    let off = 0;
    while (off < bytes) {
      const got = await file.read(out.subarray(off));
      if (got === null) {
        throw new InputError(`${path}: ended at byte ${off} while ${bytes} were expected`);
      }
      off += got;
    }
    return out;
  } finally {
    file.close();
  }
}

/** One split of CIFAR-10; `limit` reads only the first N records of the split. */
export async function loadCifar10(dir: string, split: Split, limit = Infinity): Promise<ImageSet> {
  const names = split === "train" ? TRAIN : ["test_batch.bin"];
  // the folder that holds the split's first file decides where all of them are looked for
  let base = dir;
  if (await sizeOf(join(dir, names[0])) === null) {
    base = join(dir, SUBFOLDER);
    if (await sizeOf(join(base, names[0])) === null) {
      throw new InputError(
        `cifar10:${dir}: expected ${names[0]} (the CIFAR-10 binary version) in ${dir} or in ` +
          `${base}, found neither`,
      );
    }
  }
  // sizes first: a truncated or missing batch fails before anything is read, and the
  // pixels are allocated once
  const files: { path: string; records: number }[] = [];
  for (const name of names) {
    const path = join(base, name), size = await sizeOf(path);
    if (size === null) {
      throw new InputError(
        `${path}: missing (${split} needs ${names.join(", ")} in ${base})`,
      );
    }
    if (size === 0) throw new InputError(`${path}: empty, expected records of ${RECORD} bytes`);
    if (size % RECORD !== 0) {
      const whole = Math.floor(size / RECORD);
      throw new InputError(
        `${path}: truncated: ${size} bytes is not a whole number of ${RECORD}-byte records; ` +
          `the record at byte offset ${whole * RECORD} has ${size - whole * RECORD} bytes`,
      );
    }
    files.push({ path, records: size / RECORD });
  }
  const n = Math.min(limit, files.reduce((s, f) => s + f.records, 0));
  const pixels = new Uint8Array(n * PIXELS), labels = new Int32Array(n);
  let i = 0;
  for (const { path, records } of files) {
    const take = Math.min(records, n - i);
    if (take === 0) break;
    const bytes = await readPrefix(path, take * RECORD);
    for (let r = 0; r < take; r++, i++) {
      const label = bytes[r * RECORD];
      if (label > 9) {
        throw new InputError(
          `${path}: record ${r} (byte offset ${r * RECORD}) has label ${label}, expected 0–9`,
        );
      }
      labels[i] = label;
      pixels.set(bytes.subarray(r * RECORD + 1, (r + 1) * RECORD), i * PIXELS);
    }
  }
  return {
    n,
    shape: [3, 32, 32],
    pixels,
    labels,
    bits: 8,
    description: `cifar10 ${split} (${n} images 3×32×32 from ${base})`,
  };
}
