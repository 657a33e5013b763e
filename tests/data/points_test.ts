/**
 * `points:FILE[,discrete]`: empty CSV cells are errors naming line and column, and data are
 * integer levels (dequantised before a density) only when declared so — by an integer .npy
 * dtype or the `,discrete` suffix — never because their values happen to be whole numbers.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { loadPoints } from "../../data/points.ts";
import { InputError } from "../../io/errors.ts";
import { encodeNpyF32 } from "../../io/npy_write.ts";

const dir = await Deno.makeTempDir({ prefix: "points_" });

/** A version-1 .npy of `descr` (e.g. "<i4") holding `data` (a typed array of that dtype). */
function npy(descr: string, shape: number[], data: ArrayBufferView): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(", ")},), }`;
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n";
  const head = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length, 0]);
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(10 + header.length + body.length);
  out.set(head);
  out.set(new TextEncoder().encode(header), 10);
  out.set(body, 10 + header.length);
  return out;
}

async function write(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(dir, name);
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  return path;
}

const rejects = (spec: string, message: RegExp) =>
  assert.rejects(() => loadPoints(spec), (e: unknown) => {
    assert.ok(e instanceof InputError, String(e));
    assert.match(e.message, message);
    return true;
  });

Deno.test("an empty CSV cell is an InputError naming its line and column, not a 0", async () => {
  await rejects(
    await write("gap.csv", "x,y\n1,2\n3,\n5,6\n"),
    /gap\.csv: line 3 \(data row 2\), column 2 is empty/,
  );
  await rejects(
    await write("lead.csv", ",1\n2,3\n"),
    /lead\.csv: line 1 \(data row 1\), column 1 is empty/,
  );
  await rejects(await write("mid.csv", "1, ,3\n"), /line 1 \(data row 1\), column 2 is empty/);
  await rejects(
    await write("word.csv", "a,b\n1,x\n"),
    /line 2 \(data row 1\), column 2 is not a finite number \("x"\)/,
  );
  const ok = await loadPoints(await write("blank_lines.csv", "a,b\n\n1,2\n\n3,4\n"));
  assert.deepEqual([...ok.data], [1, 2, 3, 4]);
});

Deno.test("whole-number values are continuous unless declared: float .npy, CSV and JSON", async () => {
  const f32 = await write("whole.npy", encodeNpyF32([1, 0, -2, 3, 4, 5], [3, 2]));
  const csv = await write("whole.csv", "1,0\n-2,3\n");
  const json = await write("whole.json", "[[1, 0], [-2, 3]]");
  for (const path of [f32, csv, json]) {
    const p = await loadPoints(path);
    assert.equal(p.discrete, false, path);
    assert.ok([...p.data].every(Number.isInteger), "the values are whole numbers all the same");
  }
});

Deno.test("integer .npy dtypes and the ,discrete suffix declare integer levels", async () => {
  const i4 = await write("levels.npy", npy("<i4", [2, 2], Int32Array.from([0, 3, 255, 7])));
  const u1 = await write("bytes.npy", npy("|u1", [2, 3], Uint8Array.from([0, 1, 2, 3, 4, 255])));
  for (const path of [i4, u1]) {
    const p = await loadPoints(path);
    assert.equal(p.discrete, true, path);
  }
  assert.deepEqual([...(await loadPoints(i4)).data], [0, 3, 255, 7]);
  const csv = await write("counts.csv", "1,0\n-2,3\n");
  const declared = await loadPoints(`${csv},discrete`);
  assert.equal(declared.discrete, true);
  assert.deepEqual([...declared.data], [1, 0, -2, 3]);
  const f32 = await write("levels_f32.npy", encodeNpyF32([1, 2, 3, 4], [2, 2]));
  assert.equal((await loadPoints(`${f32},discrete`)).discrete, true);
});

Deno.test("declared discrete data must hold whole numbers", async () => {
  const csv = await write("halves.csv", "1,0\n2,0.5\n");
  assert.equal((await loadPoints(csv)).discrete, false);
  await rejects(
    `${csv},discrete`,
    /halves\.csv: declared discrete, but row 1, column 1 holds 0\.5/,
  );
});
