/**
 * Writing samples where `--out FILE` says, the extension picking the format:
 * `.png` a grid of images ([C, H, W] with C = 1 or 3) or a density picture of 2-D points,
 * `.npy` a float32 array [n, …shape], `.json` `{"shape": […], "samples": [[…], …]}` with each
 * sample flattened. Files are written atomically.
 */

import { dirname, extname, resolve } from "node:path";
import { sizeOf } from "../compute/mod.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { RuntimeFailure, UsageError } from "../io/errors.ts";
import { encodeNpyF32 } from "../io/npy_write.ts";
import { encodePng, imageGrid, toPixelBytes } from "../io/png.ts";
import { scatterPng } from "../io/scatter_png.ts";

export const OUTPUT_FORMATS = [".png", ".npy", ".json"];

/** Fails early (before any sampling) on an extension no writer knows, or a PNG of other data. */
export function checkOutputPath(path: string, shape: readonly number[]): void {
  const ext = extname(path).toLowerCase();
  if (!OUTPUT_FORMATS.includes(ext)) {
    throw new UsageError(
      `--out ${path}: the extension picks the format; expected ${OUTPUT_FORMATS.join(", ")}`,
    );
  }
  const image = shape.length === 3 && (shape[0] === 1 || shape[0] === 3);
  if (ext === ".png" && !image && !(shape.length === 1 && shape[0] === 2)) {
    throw new UsageError(
      `--out ${path}: a PNG shows images [1 or 3, H, W] or 2-D points; samples are [${shape}] (use .npy or .json)`,
    );
  }
}

/**
 * Fails before any sampling when `--out` cannot be written: a folder at that path, a file where
 * a folder of the path should be (usage errors), or a folder that refuses new files (a runtime
 * failure). Probes the nearest existing folder with a temporary file; creates nothing else.
 */
export async function checkOutputWritable(path: string): Promise<void> {
  const refused = (where: string, e: unknown) =>
    new RuntimeFailure(
      `--out ${path}: cannot write in ${where} (${(e as Error).message}); choose a writable place`,
    );
  const kind = async (p: string) => {
    try {
      return (await Deno.stat(p)).isDirectory ? "folder" : "file";
    } catch (e) {
      // a missing path, or one running through a file (reported when the walk reaches it)
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
        return "missing";
      }
      throw refused(p, e);
    }
  };
  if (await kind(path) === "folder") {
    throw new UsageError(
      `--out ${path} is a folder; expected a file name ending in ${OUTPUT_FORMATS.join(", ")}`,
    );
  }
  let folder = dirname(resolve(path));
  for (let k = await kind(folder); k !== "folder"; k = await kind(folder)) {
    if (k === "file") {
      throw new UsageError(`--out ${path}: ${folder} is a file, so it cannot hold the output`);
    }
    folder = dirname(folder);
  }
  let probe: string;
  try {
    probe = await Deno.makeTempFile({ dir: folder, prefix: ".likelihood-write-probe-" });
  } catch (e) {
    throw refused(folder, e);
  }
  await Deno.remove(probe);
}

/** `values` holds n samples of `shape`, row-major, in model space. */
export async function writeSamples(
  path: string,
  values: ArrayLike<number>,
  n: number,
  shape: readonly number[],
): Promise<void> {
  checkOutputPath(path, shape);
  const ext = extname(path).toLowerCase();
  const d = sizeOf(shape);
  let bytes: Uint8Array | string;
  if (ext === ".npy") bytes = encodeNpyF32(values, [n, ...shape]);
  else if (ext === ".json") {
    const samples = Array.from(
      { length: n },
      (_, i) => Array.from({ length: d }, (_, j) => values[i * d + j]),
    );
    bytes = JSON.stringify({ shape: [...shape], samples });
  } else if (shape.length === 1) bytes = scatterPng(values, n);
  else {
    const grid = imageGrid({
      n,
      shape: shape as [number, number, number],
      pixels: toPixelBytes(Float64Array.from(values)),
    });
    bytes = encodePng(grid.pixels, grid.width, grid.height, grid.channels);
  }
  await writeFileAtomic(path, bytes);
}
