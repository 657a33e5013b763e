import assert from "node:assert/strict";
import { decode } from "fast-png";
import { parseNpy } from "../../io/npy.ts";
import { checkOutputPath, writeSamples } from "../../sample/output.ts";
import { UsageError } from "../../io/errors.ts";

const dir = await Deno.makeTempDir({ prefix: "sample-out-" });

Deno.test("sample output: .npy round-trips through the reader as float32 [n, …shape]", async () => {
  const values = Float64Array.from({ length: 2 * 3 * 2 }, (_, i) => i / 7 - 0.5);
  await writeSamples(`${dir}/a.npy`, values, 2, [3, 2]);
  const back = parseNpy(await Deno.readFile(`${dir}/a.npy`), "a.npy");
  assert.deepEqual(back.shape, [2, 3, 2]);
  assert.equal(back.dtype, "<f4");
  back.data.forEach((v, i) => assert.equal(v, Math.fround(values[i])));
  // 1-D samples: numpy writes a one-element shape tuple with a trailing comma
  await writeSamples(`${dir}/b.npy`, [1, 2, 3], 3, [1]);
  assert.deepEqual(parseNpy(await Deno.readFile(`${dir}/b.npy`), "b.npy").shape, [3, 1]);
});

Deno.test("sample output: .json holds the shape and each sample flattened", async () => {
  await writeSamples(`${dir}/a.json`, [1, 2, 3, 4, 5, 6], 2, [1, 3]);
  const doc = JSON.parse(await Deno.readTextFile(`${dir}/a.json`));
  assert.deepEqual(doc, { shape: [1, 3], samples: [[1, 2, 3], [4, 5, 6]] });
});

Deno.test("sample output: .png is an image grid for images and a density picture for 2-D", async () => {
  await writeSamples(`${dir}/g.png`, new Float64Array(4 * 3 * 2 * 2).fill(1), 4, [3, 2, 2]);
  const g = decode(await Deno.readFile(`${dir}/g.png`));
  assert.deepEqual([g.width, g.height, g.channels], [5, 5, 3]);
  assert.equal(g.data[0], 255, "y = 1 is white");
  const pts = Float64Array.from({ length: 2000 }, (_, i) => (i % 2 ? 0.1 : -3) + (i % 7) * 0.01);
  await writeSamples(`${dir}/s.png`, pts, 1000, [2]);
  const s = decode(await Deno.readFile(`${dir}/s.png`));
  assert.deepEqual([s.width, s.height, s.channels], [256, 256, 1]);
  assert.ok(Math.min(...s.data) < 100, "the points are drawn dark");
  assert.equal(Math.max(...s.data), 255, "on white");
});

Deno.test("sample output: unknown extensions and PNGs of other data are usage errors", () => {
  assert.throws(() => checkOutputPath("x.txt", [2]), UsageError);
  assert.throws(() => checkOutputPath("x.png", [10]), /use \.npy or \.json/);
  checkOutputPath("x.PNG", [1, 28, 28]);
});
