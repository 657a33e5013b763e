/**
 * The tableaus checked against the Runge–Kutta order conditions (Butcher 1963; Hairer,
 * Nørsett & Wanner, Solving ODEs I, §II.2): Σᵢ bᵢ Φᵢ(τ) = 1/γ(τ) for every rooted
 * tree τ with at most p nodes. A single wrong coefficient breaks one of them.
 */

import assert from "node:assert/strict";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { type ButcherTableau, TABLEAUS } from "../../sde/ode/tableaus.ts";

/** A rooted tree as the list of its root's subtrees. */
type Tree = Tree[];

// All 17 rooted trees with 1 to 5 nodes (1, 1, 2, 4 and 9 of each size).
const TREES: Tree[] = [
  [],
  [[]],
  [[], []],
  [[[]]],
  [[], [], []],
  [[], [[]]],
  [[[], []]],
  [[[[]]]],
  [[], [], [], []],
  [[], [], [[]]],
  [[], [[], []]],
  [[], [[[]]]],
  [[[]], [[]]],
  [[[], [], []]],
  [[[], [[]]]],
  [[[[], []]]],
  [[[[[]]]]],
];

const nodes = (t: Tree): number => 1 + t.reduce((n, s) => n + nodes(s), 0);
/** γ(τ) = |τ| Π γ(subtrees) */
const gamma = (t: Tree): number => nodes(t) * t.reduce((g, s) => g * gamma(s), 1);
/** Φᵢ(τ) = Π over subtrees σ of Σⱼ aᵢⱼ Φⱼ(σ), one value per stage. */
function phi(tab: ButcherTableau, t: Tree): number[] {
  const subs = t.map((s) => phi(tab, s));
  return tab.c.map((_, i) =>
    subs.reduce((p, v) => p * tab.a[i].reduce((acc, aij, j) => acc + aij * v[j], 0), 1)
  );
}
/** Σᵢ wᵢ Φᵢ(τ) − 1/γ(τ) for each tree with at most `order` nodes. */
function defects(tab: ButcherTableau, w: readonly number[], order: number): number[] {
  return TREES.filter((t) => nodes(t) <= order).map((t) =>
    phi(tab, t).reduce((acc, p, i) => acc + w[i] * p, 0) - 1 / gamma(t)
  );
}

Deno.test("tableau shapes: strictly lower-triangular a, row sums equal c, FSAL consistent", () => {
  for (const tab of TABLEAUS) {
    const s = tab.c.length;
    assert.equal(tab.a.length, s, tab.name);
    assert.equal(tab.b.length, s, tab.name);
    tab.a.forEach((row, i) => assert.equal(row.length, i, `${tab.name} row ${i}`));
    const rowSums = tab.a.map((row) => row.reduce((x, y) => x + y, 0));
    assertAllClose(rowSums.slice(1), tab.c.slice(1), tol.f64, `${tab.name} Σⱼ aᵢⱼ = cᵢ`);
    assert.equal(tab.c[0], 0, tab.name);
    if (tab.fsal) {
      assert.equal(tab.c[s - 1], 1, `${tab.name}: FSAL needs c_last = 1`);
      assertAllClose(tab.a[s - 1], tab.b.slice(0, s - 1), tol.exact, `${tab.name}: a_last = b`);
      assert.equal(tab.b[s - 1], 0, `${tab.name}: FSAL needs b_last = 0`);
    }
    assert.equal(tab.bErr === undefined, tab.embeddedOrder === undefined, tab.name);
    if (tab.bErr) assert.equal(tab.bErr.length, s, tab.name);
  }
});

Deno.test("b satisfies the order conditions up to p, and (for p < 5) fails one of order p + 1", () => {
  for (const tab of TABLEAUS) {
    const d = defects(tab, tab.b, tab.order);
    assertAllClose(d, d.map(() => 0), tol.f64, `${tab.name} order ${tab.order}`);
    if (tab.order < 5) {
      const next = defects(tab, tab.b, tab.order + 1).slice(d.length);
      assert.ok(
        next.some((x) => Math.abs(x) > 1e-6),
        `${tab.name} is not of order ${tab.order + 1}`,
      );
    }
  }
});

Deno.test("embedded b̂ = b − bErr has order q exactly, so the error estimate is O(h^(q+1))", () => {
  for (const tab of TABLEAUS.filter((t) => t.bErr)) {
    const q = tab.embeddedOrder!;
    const bHat = tab.b.map((bi, i) => bi - tab.bErr![i]);
    const d = defects(tab, bHat, q);
    assertAllClose(d, d.map(() => 0), tol.f64, `${tab.name} embedded order ${q}`);
    const next = defects(tab, bHat, q + 1).slice(d.length);
    assert.ok(next.some((x) => Math.abs(x) > 1e-6), `${tab.name}: b̂ must not reach order ${q + 1}`);
  }
});
