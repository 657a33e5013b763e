import assert from "node:assert/strict";
import { medianPairwiseDistance, mmd2, rows } from "../../eval/mmd.ts";
import { Rng } from "../../compute/mod.ts";

Deno.test("MMD²: the unbiased estimator by hand on three points against two", () => {
  const x = rows([0, 0, 1, 0, 0, 2], 3), y = rows([1, 1, 3, 0], 2), h = 1.5;
  const k = (d2: number) => Math.exp(-d2 / (2 * h * h));
  // within x: pairs at squared distances 1, 4, 5; within y: 5; cross: 2, 9, 1, 4, 2, 13
  const want = (2 * (k(1) + k(4) + k(5))) / 6 + k(5) -
    (2 * (k(2) + k(9) + k(1) + k(4) + k(2) + k(13))) / 6;
  assert.ok(Math.abs(mmd2(x, y, h) - want) < 1e-15);
});

Deno.test("MMD²: near zero for two samples of one law, positive for shifted laws", () => {
  const rng = Rng.fromSeed(1);
  const draw = (key: string, shift: number) =>
    rows(rng.derive(key).uniformHost(800).map((u) => u + shift), 400);
  const a = draw("a", 0), b = draw("b", 0), c = draw("c", 0.5);
  assert.ok(Math.abs(mmd2(a, b)) < 0.01, `same law: ${mmd2(a, b)}`);
  assert.ok(mmd2(a, c) > 0.05, `shifted: ${mmd2(a, c)}`);
  // median heuristic: points 0, 1, 2 on a line have distances 1, 1, 2
  assert.equal(medianPairwiseDistance(rows([0, 1, 2], 3)), 1);
});
