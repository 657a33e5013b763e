import assert from "node:assert/strict";
import { join } from "node:path";
import { decode } from "fast-png";
import { encodePng, GRID_GAP_LEVEL, imageGrid, toPixelBytes, writePngGrid } from "../../io/png.ts";

const pattern = (n: number, seed = 0) =>
  Uint8Array.from({ length: n }, (_, i) => (seed + i * 37 + (i >> 3) * 11) % 256);

Deno.test("encodePng round-trips through fast-png's decoder exactly (gray and RGB)", () => {
  for (const [w, h, c] of [[5, 3, 1], [1, 1, 1], [7, 4, 3], [1, 9, 3]] as const) {
    const pixels = pattern(w * h * c, w);
    const png = decode(encodePng(pixels, w, h, c), { checkCrc: true });
    assert.deepEqual([png.width, png.height, png.channels, png.depth], [w, h, c, 8]);
    assert.deepEqual(png.data, pixels);
  }
});

Deno.test("encodePng refuses sizes that do not match the pixels", () => {
  assert.throws(() => encodePng(new Uint8Array(5), 2, 2, 1), /2×2×1 needs 4 bytes, got 5/);
  assert.throws(() => encodePng(new Uint8Array(0), 0, 2, 1), /width must be a positive integer/);
  assert.throws(() => encodePng(new Uint8Array(8), 2, 2, 2 as 1), /channels must be 1 or 3/);
});

Deno.test("imageGrid: image k's pixel (y, x) lands at (⌊k/cols⌋(H+1) + y, (k mod cols)(W+1) + x)", () => {
  const [c, h, w] = [3, 2, 3], n = 5, d = c * h * w;
  const pixels = pattern(n * d);
  const g = imageGrid({ n, shape: [c, h, w], pixels }); // cols = ⌈√5⌉ = 3, rows = 2
  assert.deepEqual([g.width, g.height, g.channels], [3 * 4 - 1, 2 * 3 - 1, 3]);
  const at = (y: number, x: number, ch: number) => g.pixels[(y * g.width + x) * c + ch];
  for (let k = 0; k < n; k++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++) {
          const want = pixels[k * d + ch * h * w + y * w + x];
          assert.equal(at(Math.floor(k / 3) * 3 + y, (k % 3) * 4 + x, ch), want);
        }
      }
    }
  }
  // image 4, pixel (1, 2), blue: row 1 of cells, column 1 → (3 + 1, 4 + 2)
  assert.equal(at(4, 6, 2), pixels[4 * d + 2 * h * w + 1 * w + 2]);
  // the gap row, the gap columns and the unused sixth cell are mid-gray
  for (let x = 0; x < g.width; x++) assert.equal(at(2, x, 0), GRID_GAP_LEVEL);
  for (let y = 0; y < g.height; y++) assert.equal(at(y, 3, 1), GRID_GAP_LEVEL);
  assert.equal(at(3, 8, 0), GRID_GAP_LEVEL);
  const row = imageGrid({ n, shape: [c, h, w], pixels }, 5);
  assert.deepEqual([row.width, row.height], [5 * 4 - 1, 2]);
  const gray = imageGrid({ n: 1, shape: [1, 2, 2], pixels: new Uint8Array([1, 2, 3, 4]) });
  assert.deepEqual([gray.width, gray.height, gray.channels, [...gray.pixels]], [2, 2, 1, [
    1,
    2,
    3,
    4,
  ]]);
});

Deno.test("imageGrid refuses bad shapes, counts and column numbers", () => {
  const pixels = new Uint8Array(8);
  assert.throws(() => imageGrid({ n: 1, shape: [2, 2, 2], pixels }), /1 or 3 channels, got 2/);
  assert.throws(() => imageGrid({ n: 3, shape: [1, 2, 2], pixels }), /need 12 bytes, got 8/);
  assert.throws(() => imageGrid({ n: 2, shape: [1, 2, 2], pixels }, 0), /cols must be/);
});

Deno.test("writePngGrid writes the grid atomically: the decoded file is the grid", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const images = { n: 4, shape: [1, 3, 2] as [number, number, number], pixels: pattern(24) };
    const path = join(dir, "sub", "grid.png");
    await writePngGrid(path, images, 2);
    const png = decode(await Deno.readFile(path), { checkCrc: true });
    const g = imageGrid(images, 2);
    assert.deepEqual([png.width, png.height, png.channels], [g.width, g.height, 1]);
    assert.deepEqual(png.data, g.pixels);
    const left = [...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name);
    assert.deepEqual(left, ["grid.png"], "no temporary file is left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("toPixelBytes inverts y = k/127.5 − 1, clamps, and refuses NaN", () => {
  const ends = toPixelBytes(Float64Array.of(-1, 1, 0, -2, 2, -Infinity, Infinity, -0.999, 0.999));
  // 0 → 127.5 rounds up; ±0.999 → 0.1275 and 254.87
  assert.deepEqual([...ends], [0, 255, 128, 0, 255, 0, 255, 0, 255]);
  const levels = Float64Array.from({ length: 256 }, (_, k) => k / 127.5 - 1);
  for (const y of [levels, Float32Array.from(levels)]) {
    assert.deepEqual([...toPixelBytes(y)], [...Array(256).keys()], y.constructor.name);
  }
  assert.throws(() => toPixelBytes(Float32Array.of(0, NaN)), /value 1 of 2 is NaN/);
});
