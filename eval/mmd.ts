/**
 * Squared maximum mean discrepancy between two point sets with a Gaussian kernel
 * k(x, y) = exp(−‖x − y‖²/(2h²)): the unbiased estimator
 *   MMD² = mean_{i≠j} k(x_i, x_j) + mean_{i≠j} k(y_i, y_j) − 2 mean_{i,j} k(x_i, y_j),
 * with h the median pairwise distance of the pooled points unless given (the usual heuristic).
 * Host float64: sample-quality figures for benchmarks, O((n + m)² D).
 */

export function medianPairwiseDistance(points: Float64Array[], cap = 2000): number {
  const p = points.slice(0, cap), d: number[] = [];
  for (let i = 0; i < p.length; i++) {
    for (let j = i + 1; j < p.length; j++) d.push(dist2(p[i], p[j]));
  }
  d.sort((a, b) => a - b);
  return Math.sqrt(d[Math.floor(d.length / 2)]);
}

export function mmd2(x: Float64Array[], y: Float64Array[], bandwidth?: number): number {
  const h = bandwidth ?? medianPairwiseDistance([...x, ...y]);
  const k = (a: Float64Array, b: Float64Array) => Math.exp(-dist2(a, b) / (2 * h * h));
  const within = (s: Float64Array[]) => {
    let acc = 0;
    for (let i = 0; i < s.length; i++) for (let j = i + 1; j < s.length; j++) acc += k(s[i], s[j]);
    return (2 * acc) / (s.length * (s.length - 1));
  };
  let cross = 0;
  for (const a of x) for (const b of y) cross += k(a, b);
  return within(x) + within(y) - (2 * cross) / (x.length * y.length);
}

function dist2(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s;
}

/** Rows of a flat [n, D] array. */
export function rows(flat: ArrayLike<number>, n: number): Float64Array[] {
  const D = flat.length / n;
  return Array.from(
    { length: n },
    (_, i) => Float64Array.from({ length: D }, (_, j) => flat[i * D + j]),
  );
}
