import assert from "node:assert/strict";
import { Rng } from "../../compute/rng.ts";
import { pointsDataset, shuffledOrder, toyDataset } from "../../data/dataset.ts";
import { sampleToy2d } from "../../data/toy2d.ts";
import type { PointSet } from "../../data/points.ts";

const isPermutation = (order: Int32Array, n: number) =>
  order.length === n && [...order].sort((a, b) => a - b).every((v, i) => v === i);

Deno.test("shuffledOrder is a permutation of 0 … n−1, also for n = 0 and 1", () => {
  const rng = Rng.fromSeed(3);
  for (const n of [0, 1, 2, 7, 1000]) {
    for (const epoch of [0, 1, 17]) assert.ok(isPermutation(shuffledOrder(n, rng, epoch), n));
  }
});

Deno.test("shuffledOrder is deterministic per (seed, epoch) and leaves the rng alone", () => {
  const rng = Rng.fromSeed(3), before = rng.state();
  const a = shuffledOrder(1000, rng, 5);
  assert.deepEqual(rng.state(), before, "deriving streams must not advance the parent");
  assert.deepEqual(shuffledOrder(1000, Rng.fromSeed(3), 5), a);
  // Derived streams ignore the counter: earlier draws do not change an epoch's order.
  rng.uniformHost(10);
  assert.deepEqual(shuffledOrder(1000, rng, 5), a);
  assert.notDeepEqual(shuffledOrder(1000, rng, 6), a, "epochs differ");
  assert.notDeepEqual(shuffledOrder(1000, Rng.fromSeed(4), 5), a, "seeds differ");
  assert.notDeepEqual(a, Int32Array.from({ length: 1000 }, (_, i) => i), "it shuffles");
});

Deno.test('shuffledOrder is Fisher–Yates on rng.derive("order").derive(epoch) (resume contract)', () => {
  const rng = Rng.fromSeed(11);
  for (const epoch of [0, 2]) {
    const u = rng.derive("order").derive(epoch).uniformHost(50), want = [...Array(50).keys()];
    for (let i = 49; i > 0; i--) {
      const j = Math.floor(u[i] * (i + 1));
      [want[i], want[j]] = [want[j], want[i]];
    }
    assert.deepEqual([...shuffledOrder(50, rng, epoch)], want);
  }
});

Deno.test("shuffledOrder is uniform: the 24 orders of 4 items appear equally over epochs", () => {
  // A biased shuffle (Sattolo's j < i, or j drawn from all n) fails this at once.
  const rng = Rng.fromSeed(1), E = 2400, counts = new Map<string, number>();
  for (let epoch = 0; epoch < E; epoch++) {
    const key = shuffledOrder(4, rng, epoch).join("");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  assert.equal(counts.size, 24);
  const chi2 = [...counts.values()].reduce((s, c) => s + (c - E / 24) ** 2 / (E / 24), 0);
  assert.ok(chi2 < 49.73, `χ² = ${chi2} (23 dof, p = 0.001 critical value 49.73)`);
});

Deno.test("shuffledOrder rejects epochs and sizes it cannot honour", () => {
  const rng = Rng.fromSeed(0);
  for (const epoch of [-1, 0.5, 2 ** 32, NaN]) {
    assert.throws(() => shuffledOrder(4, rng, epoch), RangeError);
  }
  for (const n of [-1, 2.5, 2 ** 24 + 1]) assert.throws(() => shuffledOrder(n, rng, 0), RangeError);
});

Deno.test("toyDataset holds the points sampleToy2d draws and batches rows by index", () => {
  const data = toyDataset("pinwheel", 100, Rng.fromSeed(9));
  const xy = sampleToy2d("pinwheel", 100, Rng.fromSeed(9));
  assert.equal(data.n, 100);
  assert.deepEqual(data.shape, [2]);
  assert.equal(data.description, "toy:pinwheel (100 points)");
  const idx = [42, 0, 99, 42];
  const want = idx.flatMap((i) => [xy[2 * i], xy[2 * i + 1]]);
  assert.deepEqual([...data.batch(idx)], want);
  assert.deepEqual([...data.batch(Int32Array.from(idx))], want);
  assert.equal(data.batch([]).length, 0);
  const all = data.batch(shuffledOrder(100, Rng.fromSeed(0), 0));
  assert.deepEqual([...all].sort(), [...xy].sort(), "an epoch visits every point once");
});

Deno.test("pointsDataset gathers whole examples of any shape, as copies", () => {
  // 3 examples of shape [2, 2]: example i holds 10i … 10i+3
  const points: PointSet = {
    data: Float64Array.from([0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]),
    n: 3,
    shape: [2, 2],
    discrete: true,
  };
  const data = pointsDataset(points);
  assert.equal(data.n, 3);
  assert.deepEqual(data.shape, [2, 2]);
  assert.equal(data.description, "points (3 × 2 × 2)");
  assert.equal(pointsDataset(points, "points:x.npy").description, "points:x.npy");
  const b = data.batch([2, 0]);
  assert.deepEqual([...b], [20, 21, 22, 23, 0, 1, 2, 3]);
  b.fill(-1);
  data.shape.push(9);
  assert.deepEqual([...data.batch([0])], [0, 1, 2, 3], "batches do not alias the table");
  assert.deepEqual(points.shape, [2, 2], "the dataset's shape is its own");
});

Deno.test("batch rejects indices outside [0, n) instead of returning NaN", () => {
  const data = toyDataset("moons", 10, Rng.fromSeed(0));
  for (const i of [-1, 10, 1.5]) assert.throws(() => data.batch([0, i]), RangeError);
  const bad: PointSet = { data: new Float64Array(5), n: 3, shape: [2], discrete: false };
  assert.throws(() => pointsDataset(bad), /5 values for 3 examples of 2/);
});
