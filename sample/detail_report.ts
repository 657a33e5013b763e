/**
 * Correlation coefficients for the detail measure of MATH.md §5: across generated images,
 * −log p_0 against PNG file size. Pearson's r on the values, Spearman's ρ as Pearson's r on
 * the ranks (ties share their mean rank, so ρ stays exact with repeated sizes).
 *
 * @example
 * ```ts
 * pearson([1, 2, 3], [2, 4, 7]); // 0.9934
 * spearman([1, 2, 3], [2, 4, 7]); // 1
 * ```
 */

/** r = Σ(x − x̄)(y − ȳ) / √(Σ(x − x̄)² Σ(y − ȳ)²); NaN when either side is constant. */
export function pearson(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) {
    throw new RangeError(`pearson: ${x.length} values against ${y.length}`);
  }
  if (x.length < 2) throw new RangeError(`pearson: needs at least 2 pairs, got ${x.length}`);
  const n = x.length;
  const mx = x.reduce((s, v) => s + v, 0) / n, my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/** 1-based ranks, ties given the mean of the ranks they span (rank([10, 20, 20]) = [1, 2.5, 2.5]). */
export function ranks(v: readonly number[]): number[] {
  const order = v.map((_, i) => i).sort((a, b) => v[a] - v[b]);
  const out = new Array<number>(v.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && v[order[j + 1]] === v[order[i]]) j++;
    const mean = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[order[k]] = mean;
    i = j + 1;
  }
  return out;
}

/** Spearman's ρ: Pearson's r of the ranks (tie-corrected). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  return pearson(ranks(x), ranks(y));
}
