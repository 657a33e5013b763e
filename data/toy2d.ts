/**
 * The `toy:NAME` data SPECs (DESIGN.md): the six 2-D toy distributions of the flow and
 * diffusion literature (FFJORD, Grathwohl et al. 2019; pinwheel from Johnson et al. 2016),
 * written here from their geometric descriptions. Each is centred on its exact mean and scaled
 * to a standard deviation of roughly 0.5–1.2 per coordinate, so one set of network and SDE
 * settings suits all six.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../compute/rng.ts";
 * const xy = sampleToy2d(parseToySpec("toy:moons"), 1000, Rng.fromSeed(0)); // 1000 × 2
 * assert.equal(xy.length, 2000);
 * ```
 */

import type { Rng } from "../compute/rng.ts";
import { UsageError } from "../io/errors.ts";

export const TOY2D_NAMES = [
  "checkerboard",
  "moons",
  "swissroll",
  "rings",
  "8gaussians",
  "pinwheel",
] as const;
export type Toy2dName = typeof TOY2D_NAMES[number];

/**
 * Uniforms each point consumes, whatever the distribution: point i always uses draws
 * 4i … 4i+3, so the first m points of a sample of n > m are the sample of m (same rng state).
 */
const PER_POINT = 4;

/** One point from four uniforms in [0, 1). */
type Draw = (a: number, b: number, c: number, d: number) => [number, number];

/** Two independent standard normals by Box–Muller; 1 − u lies in (0, 1], so log never sees 0. */
function normals(u: number, v: number): [number, number] {
  const r = Math.sqrt(-2 * Math.log(1 - u)), phi = 2 * Math.PI * v;
  return [r * Math.cos(phi), r * Math.sin(phi)];
}

/** Picks one of k choices from a uniform; u < 1 keeps the index below k. */
const pick = (u: number, k: number) => Math.floor(u * k);

const DRAWS: { [N in Toy2dName]: Draw } = {
  /**
   * A 4 × 4 board of unit squares on [−2, 2]²; square (i, j) (column i, row j, from the
   * lower left) is "black" when i + j is even. Points are uniform on the 8 black squares, so
   * the density has sharp edges and no noise. The black set is symmetric under p ↦ −p, so
   * the mean is 0; each coordinate is uniform on [−2, 2] (standard deviation 2/√3 ≈ 1.15).
   */
  checkerboard: (a, b, c) => {
    const cell = pick(a, 8), j = Math.floor(cell / 2), i = 2 * (cell % 2) + (j % 2);
    return [i + b - 2, j + c - 2];
  },
  /**
   * Two interleaving half circles of radius 1 (scikit-learn's make_moons), each chosen with
   * probability ½ and with θ ~ U[0, π]: the upper arc centred at (−0.5, −0.25) spans angles
   * [0, π], the lower arc centred at (0.5, 0.25) spans [π, 2π]. The centres are the
   * unit-circle arcs (cos θ, sin θ) and (1 − cos θ, ½ − sin θ) shifted by their exact mean
   * (½, ¼). Isotropic Gaussian noise of standard deviation 0.1.
   */
  moons: (a, b, c, d) => {
    const theta = Math.PI * b, [e1, e2] = normals(c, d), s = a < 0.5 ? 1 : -1;
    return [s * (Math.cos(theta) - 0.5) + 0.1 * e1, s * (Math.sin(theta) - 0.25) + 0.1 * e2];
  },
  /**
   * The (x, z) projection of a swiss roll: the Archimedean spiral (t cos t, t sin t) with
   * t ~ U[1.5π, 4.5π] (one and a half turns, radius growing with the angle), minus its exact
   * mean (2, 2/(3π)), divided by 7 (E t² ≈ 96, so about unit variance per coordinate), plus
   * isotropic noise of standard deviation 0.05 — small next to the 2π/7 ≈ 0.9 gap between
   * turns, so the roll stays visible.
   */
  swissroll: (a, _b, c, d) => {
    const t = 1.5 * Math.PI * (1 + 2 * a), [e1, e2] = normals(c, d);
    return [
      (t * Math.cos(t) - 2) / 7 + 0.05 * e1,
      (t * Math.sin(t) - 2 / (3 * Math.PI)) / 7 + 0.05 * e2,
    ];
  },
  /**
   * Four concentric circles of radii 0.5, 1, 1.5 and 2 about the origin, each with
   * probability ¼ and a uniform angle, plus isotropic noise of standard deviation 0.04
   * (the rings stay 12 σ apart).
   */
  rings: (a, b, c, d) => {
    const r = 0.5 * (pick(a, 4) + 1), phi = 2 * Math.PI * b, [e1, e2] = normals(c, d);
    return [r * Math.cos(phi) + 0.04 * e1, r * Math.sin(phi) + 0.04 * e2];
  },
  /**
   * An equal-weight mixture of 8 isotropic Gaussians (standard deviation 0.15) centred at
   * 1.5 (cos πk/4, sin πk/4), k = 0 … 7: neighbouring centres are 1.15 ≈ 7.6 σ apart.
   */
  "8gaussians": (a, _b, c, d) => {
    const phi = (Math.PI / 4) * pick(a, 8), [e1, e2] = normals(c, d);
    return [1.5 * Math.cos(phi) + 0.15 * e1, 1.5 * Math.sin(phi) + 0.15 * e2];
  },
  /**
   * Five spiral arms (Johnson et al. 2016, make_pinwheel_data): arm k is chosen with
   * probability ⅕; a point (r, τ) = (1 + 0.3 ε₁, 0.05 ε₂) is rotated by
   * φ = 2πk/5 + 0.25 eʳ, so the farther out, the more the arm has turned; then scaled by √2
   * (E[r² + τ²]/2 ≈ 0.55, so about unit variance). Five-fold symmetry makes the mean 0.
   */
  pinwheel: (a, _b, c, d) => {
    const [e1, e2] = normals(c, d), r = 1 + 0.3 * e1, tau = 0.05 * e2;
    const phi = (2 * Math.PI * pick(a, 5)) / 5 + 0.25 * Math.exp(r);
    const cos = Math.cos(phi), sin = Math.sin(phi);
    return [Math.SQRT2 * (r * cos - tau * sin), Math.SQRT2 * (r * sin + tau * cos)];
  },
};

/**
 * n points of the named distribution, row-major n × 2. Consumes 4n uniforms of `rng`, so the
 * same rng state gives the same points and a second call gives fresh ones.
 */
export function sampleToy2d(name: Toy2dName, n: number, rng: Rng): Float64Array {
  const draw = DRAWS[toyName(name, `toy:${name}`)];
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(
      `toy:${name}: the number of points must be a non-negative integer, got ${n}`,
    );
  }
  const u = rng.uniformHost(PER_POINT * n), out = new Float64Array(2 * n);
  for (let i = 0, o = 0; i < n; i++, o += PER_POINT) {
    const [x, y] = draw(u[o], u[o + 1], u[o + 2], u[o + 3]);
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return out;
}

/** The NAME of a `toy:NAME` data SPEC; anything else is a `UsageError` listing the names. */
export function parseToySpec(spec: string): Toy2dName {
  if (!spec.startsWith("toy:")) {
    throw new UsageError(
      `data spec "${spec}": expected toy:NAME with NAME one of ${TOY2D_NAMES.join(", ")}`,
    );
  }
  return toyName(spec.slice(4), spec);
}

function toyName(name: string, spec: string): Toy2dName {
  if ((TOY2D_NAMES as readonly string[]).includes(name)) return name as Toy2dName;
  const hint = suggestion(name);
  throw new UsageError(
    `data spec "${spec}": unknown toy distribution "${name}"${
      hint ? ` (did you mean "toy:${hint}"?)` : ""
    }; expected one of ${TOY2D_NAMES.join(", ")}`,
  );
}

/**
 * The closest name by edit distance (ignoring case), when close enough to be a typo: at most
 * 2 edits (every name has at least 5 letters, so a suggestion keeps most of what was typed).
 */
function suggestion(name: string): Toy2dName | undefined {
  let best: Toy2dName | undefined, bestD = Infinity;
  for (const t of TOY2D_NAMES) {
    const d = editDistance(name.toLowerCase(), t);
    if (d < bestD) [best, bestD] = [t, d];
  }
  return bestD <= 2 ? best : undefined;
}

/** Levenshtein distance (insertions, deletions, substitutions), one row at a time. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}
