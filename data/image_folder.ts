/**
 * `images:DIR`: every `.png` in DIR (not its subfolders; other files are ignored), sorted by
 * name in code-unit order. Test is the last tenth of that list (⌊n/10⌋, at least 1), train the
 * rest, so a folder needs at least two PNGs. No labels.
 *
 * Accepted: 8-bit grayscale (C = 1) and RGB (C = 3), with or without alpha (dropped, and the
 * description says so), and palette images of 1–8 bits (converted through their palette to
 * RGB). Refused, naming the file: 16-bit and sub-8-bit non-palette PNGs (convert them to 8
 * bits first: this toolkit models 8-bit data, and rounding would hide that the levels differ),
 * and a file whose size or channel count differs from the first file's. Every file's header is
 * checked even with `limit`, which decodes only the first N files of the split.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePng } from "../io/png.ts";
 * // ten 4 × 4 grayscale PNGs: the first nine by name are train, the last one test
 * const dir = await Deno.makeTempDir();
 * for (let i = 0; i < 10; i++) {
 *   await Deno.writeFile(`${dir}/${i}.png`, encodePng(new Uint8Array(16).fill(25 * i), 4, 4, 1));
 * }
 * const train = await loadImageFolder(dir, "train");
 * assert.deepEqual([train.n, train.shape], [9, [1, 4, 4]]);
 * assert.equal(train.labels, null);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */

import { convertIndexedToRgb, decode } from "fast-png";
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import type { ImageSet, Split } from "./image_set.ts";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** channels kept per PNG colour type: gray, RGB, palette (→ RGB), gray+alpha, RGBA */
const KEPT: Record<number, number> = { 0: 1, 2: 3, 3: 3, 4: 1, 6: 3 };

interface Header {
  width: number;
  height: number;
  depth: number;
  colorType: number;
}

/** The IHDR fields from the first 33 bytes (signature, then the IHDR chunk, always first). */
async function readHeader(path: string): Promise<Header> {
  const bytes = new Uint8Array(33);
  let got = 0;
  const file = await Deno.open(path, { read: true }).catch((e) => {
    throw new InputError(`${path}: cannot read the file (${e instanceof Error ? e.message : e})`);
  });
  try {
    for (let r; got < 33 && (r = await file.read(bytes.subarray(got))) !== null;) got += r;
  } finally {
    file.close();
  }
  const view = new DataView(bytes.buffer);
  const ihdr = String.fromCharCode(...bytes.subarray(12, 16));
  if (got < 33 || SIGNATURE.some((b, i) => bytes[i] !== b) || ihdr !== "IHDR") {
    throw new InputError(
      `${path}: expected a PNG (the 8-byte PNG signature, then an IHDR chunk), found other bytes`,
    );
  }
  const h = {
    width: view.getUint32(16),
    height: view.getUint32(20),
    depth: bytes[24],
    colorType: bytes[25],
  };
  if (!(h.colorType in KEPT)) {
    throw new InputError(`${path}: expected PNG colour type 0, 2, 3, 4 or 6, found ${h.colorType}`);
  }
  if (h.colorType !== 3 && h.depth !== 8) {
    throw new InputError(
      `${path}: ${h.depth}-bit samples are not supported: expected 8-bit PNGs ` +
        `(convert the folder to 8 bits per sample first)`,
    );
  }
  return h;
}

/**
 * Walks the chunk list up to IEND, so that a cut file is reported with its byte offset rather
 * than as whatever the decoder trips over (an inflate error, an out-of-range read).
 */
function checkChunks(bytes: Uint8Array, path: string): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 8;;) {
    if (at + 8 > bytes.length) {
      throw new InputError(
        `${path}: truncated: expected a chunk header at byte offset ${at}, the file ends at ` +
          `${bytes.length} before the IEND chunk`,
      );
    }
    const length = view.getUint32(at),
      type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (at + 12 + length > bytes.length) {
      throw new InputError(
        `${path}: truncated: the ${type} chunk at byte offset ${at} needs ${length + 12} bytes, ` +
          `the file has ${bytes.length - at} from there`,
      );
    }
    if (type === "IEND") return;
    at += 12 + length;
  }
}

/** Decodes one PNG to C, H, W bytes with C = KEPT[colour type]; reports whether alpha went. */
function decodeChw(bytes: Uint8Array, path: string, c: number) {
  checkChunks(bytes, path);
  let png;
  let hwc: Uint8Array;
  try {
    png = decode(bytes, { checkCrc: true });
    hwc = png.palette ? convertIndexedToRgb(png) : png.data as Uint8Array;
  } catch (e) {
    throw new InputError(
      `${path}: not a valid PNG, the decoder says: ${e instanceof Error ? e.message : e}`,
    );
  }
  const stride = png.palette ? png.palette[0].length : png.channels;
  const { width, height } = png, plane = width * height;
  const chw = new Uint8Array(c * plane);
  for (let p = 0; p < plane; p++) {
    for (let ch = 0; ch < c; ch++) chw[ch * plane + p] = hwc[p * stride + ch];
  }
  return { chw, alpha: stride > c };
}

/** One split of a folder of PNGs; `limit` keeps (and decodes) only the first N files of it. */
export async function loadImageFolder(
  dir: string,
  split: Split,
  limit = Infinity,
): Promise<ImageSet> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && /\.png$/i.test(e.name)) names.push(e.name);
    }
  } catch (e) {
    throw new InputError(
      `images:${dir}: cannot list the folder (${e instanceof Error ? e.message : e})`,
    );
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (names.length < 2) {
    throw new InputError(
      `images:${dir}: expected at least 2 .png files (train and test), found ${names.length}`,
    );
  }
  const paths = names.map((name) => join(dir, name));
  const headers = [];
  for (const path of paths) headers.push(await readHeader(path));
  const first = headers[0], c = KEPT[first.colorType];
  headers.forEach((h, i) => {
    if (h.width !== first.width || h.height !== first.height || KEPT[h.colorType] !== c) {
      throw new InputError(
        `${paths[i]}: expected ${c} channel(s) of ${first.width}×${first.height} as in ` +
          `${paths[0]}, found ${KEPT[h.colorType]} of ${h.width}×${h.height}`,
      );
    }
  });
  const nTest = Math.max(1, Math.floor(paths.length / 10));
  const chosen = (split === "test" ? paths.slice(-nTest) : paths.slice(0, -nTest)).slice(0, limit);
  const d = c * first.width * first.height, pixels = new Uint8Array(chosen.length * d);
  let dropped = 0;
  for (const [i, path] of chosen.entries()) {
    const bytes = await Deno.readFile(path).catch((e) => {
      throw new InputError(`${path}: cannot read the file (${e instanceof Error ? e.message : e})`);
    });
    const { chw, alpha } = decodeChw(bytes, path, c);
    pixels.set(chw, i * d);
    if (alpha) dropped++;
  }
  const n = chosen.length;
  return {
    n,
    shape: [c, first.height, first.width],
    pixels,
    labels: null,
    bits: 8,
    description: `images ${split} (${n} PNGs ${c}×${first.height}×${first.width} from ${dir}` +
      (dropped > 0 ? `; alpha channel dropped from ${dropped} of them)` : ")"),
  };
}
