import assert from "node:assert/strict";
import { Rng } from "../../compute/rng.ts";
import { exitCodeOf, UsageError } from "../../io/errors.ts";
import {
  editDistance,
  parseToySpec,
  sampleToy2d,
  TOY2D_NAMES,
  type Toy2dName,
} from "../../data/toy2d.ts";

const N = 4000;
const sample = (name: Toy2dName, n = N, seed = 7) => sampleToy2d(name, n, Rng.fromSeed(seed));
const points = (xy: Float64Array) =>
  Array.from({ length: xy.length / 2 }, (_, i) => [xy[2 * i], xy[2 * i + 1]] as const);
const wrap = (a: number) => a - 2 * Math.PI * Math.floor(a / (2 * Math.PI)); // → [0, 2π)

/**
 * Pearson's χ² of observed counts against equal expected counts. The seeds are fixed, so each
 * test is deterministic; the p = 0.001 critical values only make the bound a sane one.
 */
function assertUniformCounts(counts: number[], what: string) {
  const CRIT_001: Record<number, number> = { 3: 16.27, 4: 18.47, 7: 24.32, 11: 31.26 };
  const total = counts.reduce((s, c) => s + c, 0), e = total / counts.length;
  const chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
  const crit = CRIT_001[counts.length - 1];
  assert.ok(crit !== undefined, `no critical value for ${counts.length - 1} dof`);
  assert.ok(chi2 < crit, `${what}: χ² = ${chi2.toFixed(1)} ≥ ${crit} for counts ${counts}`);
}

Deno.test("TOY2D_NAMES lists exactly the six documented distributions", () => {
  assert.deepEqual(
    [...TOY2D_NAMES].sort(),
    ["8gaussians", "checkerboard", "moons", "pinwheel", "rings", "swissroll"],
  );
});

for (const name of TOY2D_NAMES) {
  Deno.test(`${name}: n × 2, finite, deterministic per rng state, seed-dependent`, () => {
    const a = sample(name, 500);
    assert.equal(a.length, 1000);
    assert.ok(a.every(Number.isFinite));
    assert.deepEqual(sample(name, 500), a, "same seed, same points");
    assert.notDeepEqual(sample(name, 500, 8), a, "another seed, other points");
    // The rng advances: a second draw from one generator gives fresh points.
    const rng = Rng.fromSeed(7);
    assert.deepEqual(sampleToy2d(name, 500, rng), a);
    assert.notDeepEqual(sampleToy2d(name, 500, rng), a);
    // Point i uses fixed draws, so a smaller sample is a prefix of a larger one.
    assert.deepEqual(sample(name, 200), a.subarray(0, 400));
    assert.equal(sampleToy2d(name, 0, Rng.fromSeed(1)).length, 0);
  });

  Deno.test(`${name}: roughly zero mean and unit-ish scale`, () => {
    const xy = sample(name);
    for (const c of [0, 1]) {
      const v = xy.filter((_, i) => i % 2 === c), m = v.reduce((s, x) => s + x, 0) / N;
      const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / N);
      // 5 standard errors of the mean for sd ≤ 1.2; an uncentred moons or swissroll is 0.25+ off
      assert.ok(Math.abs(m) < 0.1, `coordinate ${c}: mean ${m}`);
      assert.ok(sd > 0.4 && sd < 1.6, `coordinate ${c}: standard deviation ${sd}`);
    }
  });
}

Deno.test("checkerboard: points only in the 8 black squares (i + j even), equally often", () => {
  const counts = new Map<string, number>();
  for (const [x, y] of points(sample("checkerboard"))) {
    assert.ok(Math.abs(x) < 2 && Math.abs(y) < 2, `(${x}, ${y}) is off the board`);
    const i = Math.floor(x + 2), j = Math.floor(y + 2);
    assert.equal((i + j) % 2, 0, `(${x}, ${y}) lies in the white square (${i}, ${j})`);
    counts.set(`${i},${j}`, (counts.get(`${i},${j}`) ?? 0) + 1);
  }
  assert.equal(counts.size, 8);
  assertUniformCounts([...counts.values()], "black squares");
});

Deno.test("rings: radii cluster at 0.5, 1, 1.5, 2 with equal counts and uniform angles", () => {
  const RADII = [0.5, 1, 1.5, 2], ring = [0, 0, 0, 0], angle = new Array(12).fill(0);
  for (const [x, y] of points(sample("rings"))) {
    const r = Math.hypot(x, y), k = Math.round(2 * r) - 1;
    // noise σ = 0.04: 0.2 is 5 σ, and half the gap between rings is 0.25
    assert.ok(k >= 0 && k < 4 && Math.abs(r - RADII[k]) < 0.2, `radius ${r} is on no ring`);
    ring[k]++;
    angle[Math.floor((wrap(Math.atan2(y, x)) / (2 * Math.PI)) * 12)]++;
  }
  assertUniformCounts(ring, "rings");
  assertUniformCounts(angle, "angles");
});

Deno.test("8gaussians: points near the 8 centres 1.5(cos πk/4, sin πk/4), equally often", () => {
  const counts = new Array(8).fill(0), s = [0, 0, 0]; // Σdx², Σdy², Σdx·dy
  for (const [x, y] of points(sample("8gaussians"))) {
    const k = Math.round(wrap(Math.atan2(y, x)) / (Math.PI / 4)) % 8;
    const dx = x - 1.5 * Math.cos((Math.PI / 4) * k), dy = y - 1.5 * Math.sin((Math.PI / 4) * k);
    // σ = 0.15: P(distance > 5 σ) = e^{-12.5} ≈ 4e-6 per point
    assert.ok(Math.hypot(dx, dy) < 0.75, `(${x}, ${y}) is far from centre ${k}`);
    counts[k]++;
    [s[0], s[1], s[2]] = [s[0] + dx * dx, s[1] + dy * dy, s[2] + dx * dy];
  }
  assertUniformCounts(counts, "components");
  // isotropic noise: each coordinate's spread is σ = 0.15 (± 0.01 ≈ 6 standard errors) and the
  // two are uncorrelated
  for (const ss of s.slice(0, 2)) {
    assert.ok(Math.abs(Math.sqrt(ss / N) - 0.15) < 0.01, `spread ${Math.sqrt(ss / N)}, not 0.15`);
  }
  const corr = s[2] / Math.sqrt(s[0] * s[1]);
  assert.ok(Math.abs(corr) < 0.1, `noise correlation ${corr}`);
});

/** Distance from p to the arc of the unit circle about c between angles lo and lo + π. */
function arcDistance(x: number, y: number, cx: number, cy: number, lo: number) {
  const a = wrap(Math.atan2(y - cy, x - cx) - lo);
  if (a <= Math.PI) return Math.abs(Math.hypot(x - cx, y - cy) - 1);
  const end = (t: number) => Math.hypot(x - cx - Math.cos(t), y - cy - Math.sin(t));
  return Math.min(end(lo), end(lo + Math.PI));
}

Deno.test("moons: two half circles, upper about (−0.5, −0.25), lower about (0.5, 0.25)", () => {
  const UPPER = [-0.5, -0.25, 0], LOWER = [0.5, 0.25, Math.PI] as const;
  const bins = [new Array(6).fill(0), new Array(6).fill(0)];
  let ss = 0;
  for (const [x, y] of points(sample("moons"))) {
    const du = arcDistance(x, y, UPPER[0], UPPER[1], UPPER[2]);
    const dl = arcDistance(x, y, LOWER[0], LOWER[1], LOWER[2]);
    const [d, c, arm] = du < dl ? [du, UPPER, 0] : [dl, LOWER, 1];
    assert.ok(d < 0.5, `(${x}, ${y}) is ${d} from both arcs (noise σ = 0.1)`);
    ss += d * d;
    const a = wrap(Math.atan2(y - c[1], x - c[0]) - c[2]);
    if (a < Math.PI) bins[arm][Math.floor((a / Math.PI) * 6)]++;
  }
  // The nearest-arc distance is at most the noise, so its RMS is at most about σ = 0.1.
  assert.ok(Math.sqrt(ss / N) < 0.11, `RMS distance to the arcs ${Math.sqrt(ss / N)}`);
  const [up, low] = bins.map((b) => b.reduce((s: number, v: number) => s + v, 0));
  assert.ok(Math.abs(up - low) < 4 * Math.sqrt(N), `arc sizes ${up} and ${low}`);
  // θ is uniform along each arc: every sixth of each half circle is populated alike.
  for (const b of bins) assert.ok(b.every((c) => c > (N / 12) * 0.6), `arc coverage ${b}`);
});

Deno.test("swissroll: on the spiral r = θ (radius grows with the angle) over t ∈ [1.5π, 4.5π]", () => {
  let absRes = 0, tMin = Infinity, tMax = -Infinity;
  for (const [x, y] of points(sample("swissroll"))) {
    // Undo the documented normalisation: (t cos t, t sin t) = 7 p + (2, 2/(3π)).
    const qx = 7 * x + 2, qy = 7 * y + 2 / (3 * Math.PI), r = Math.hypot(qx, qy);
    // Unwrap the angle with the turn the radius implies; the residual is the distance to the
    // spiral in t units (noise 0.05 · 7 = 0.35; an unrelated point's residual is ~U[0, π]).
    const theta = wrap(Math.atan2(qy, qx)), k = Math.round((r - theta) / (2 * Math.PI));
    const t = theta + 2 * Math.PI * k, res = Math.abs(r - t);
    assert.ok(res < 2, `(${x}, ${y}) is ${res} off the spiral`);
    absRes += res;
    tMin = Math.min(tMin, t);
    tMax = Math.max(tMax, t);
  }
  // E|N(0, 0.35)| ≈ 0.28; a wrong spiral gives ≈ π/2
  assert.ok(absRes / N < 0.4, `mean residual ${absRes / N}`);
  assert.ok(Math.abs(tMin - 1.5 * Math.PI) < 0.6 && Math.abs(tMax - 4.5 * Math.PI) < 0.6);
});

Deno.test("pinwheel: five arms, θ − 0.25 e^{|p|/√2} clusters at 2πk/5", () => {
  const BINS = 60, hist = new Array(BINS).fill(0), arms = new Array(5).fill(0);
  let near = 0;
  for (const [x, y] of points(sample("pinwheel"))) {
    // Undo the swirl: the arm's base angle is φ − 0.25 eʳ with r ≈ |p|/√2.
    const psi = wrap(Math.atan2(y, x) - 0.25 * Math.exp(Math.hypot(x, y) / Math.SQRT2));
    hist[Math.floor((psi / (2 * Math.PI)) * BINS) % BINS]++;
    const k = Math.round(psi / ((2 * Math.PI) / 5)) % 5;
    const off = Math.abs(wrap(psi - (2 * Math.PI * k) / 5 + Math.PI) - Math.PI);
    if (off < 0.25) near++, arms[k]++;
  }
  assert.ok(near > 0.97 * N, `only ${near} of ${N} points lie on an arm`);
  assertUniformCounts(arms, "arms");
  // Arms are runs of occupied bins, separated by empty ones (read circularly).
  const occupied = hist.map((c) => c > 0.005 * N);
  const runs = occupied.filter((o, i) => o && !occupied[(i + BINS - 1) % BINS]).length;
  assert.equal(runs, 5, `angle histogram ${hist}`);
});

/** The UsageError message `parseToySpec` throws (failing if it throws nothing else). */
function usageError(spec: string): string {
  try {
    parseToySpec(spec);
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
    assert.equal(exitCodeOf(e), 2);
    return e.message;
  }
  throw new Error(`parseToySpec accepted ${spec}`);
}

Deno.test("parseToySpec accepts toy:NAME for every name", () => {
  for (const name of TOY2D_NAMES) assert.equal(parseToySpec(`toy:${name}`), name);
});

Deno.test("parseToySpec: unknown names list the valid ones and suggest close misspellings", () => {
  const all = TOY2D_NAMES.join(", ");
  for (
    const [typo, want] of [
      ["moon", "moons"],
      ["checkboard", "checkerboard"],
      ["swiss_roll", "swissroll"],
      ["8gaussian", "8gaussians"],
      ["gaussian", "8gaussians"],
      ["Rings", "rings"],
      ["MOONS", "moons"],
      ["pinweel", "pinwheel"],
    ]
  ) {
    const msg = usageError(`toy:${typo}`);
    assert.match(msg, new RegExp(`did you mean "toy:${want}"\\?`), msg);
    assert.ok(msg.includes(`"${typo}"`) && msg.includes(all), msg);
  }
  for (const nonsense of ["zzzzzz", "", "ab", "circles"]) {
    const msg = usageError(`toy:${nonsense}`);
    assert.ok(!msg.includes("did you mean") && msg.includes(all), msg);
  }
  assert.ok(usageError("moons").includes("expected toy:NAME"));
  assert.ok(usageError("gmm:moons").includes(all));
});

Deno.test("sampleToy2d rejects an unknown name and a bad count", () => {
  const rng = Rng.fromSeed(0);
  assert.throws(() => sampleToy2d("moon" as Toy2dName, 3, rng), UsageError);
  for (const n of [-1, 1.5, NaN]) assert.throws(() => sampleToy2d("moons", n, rng), UsageError);
});

Deno.test("editDistance counts insertions, deletions and substitutions", () => {
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("moon", "moons"), 1);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("flaw", "lawn"), 2);
  assert.equal(editDistance("same", "same"), 0);
});
