/**
 * The detail measure of docs/MATH.md §5, shared by `sample`, `hd-mode` and `guidance`
 * (`--detail-report`): each generated image's own PNG size beside its −log p_0, written as CSV
 * next to `--out`, with their correlations across the images. Pearson's r on the values,
 * Spearman's ρ as Pearson's r on the ranks (ties share their mean rank, so ρ stays exact with
 * repeated sizes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(pearson([1, 2, 3], [2, 4, 7]).toFixed(4), "0.9934");
 * assert.equal(spearman([1, 2, 3], [2, 4, 7]), 1); // the same order: ranks agree exactly
 * ```
 */

import { sizeOf } from "../compute/mod.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { UsageError } from "../io/errors.ts";
import { encodePng, imageGrid, toPixelBytes } from "../io/png.ts";

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

export interface DetailReport {
  file: string;
  n: number;
  pearson: number;
  spearman: number;
}

/** `samples.png` → `samples.detail.csv` (the extension replaced, the folder kept). */
export function detailReportPath(out: string): string {
  const slash = out.lastIndexOf("/"), dot = out.lastIndexOf(".");
  return `${dot > slash ? out.slice(0, dot) : out}.detail.csv`;
}

/** Bytes of each image's own 8-bit PNG, with the same model-space → pixel map as `--out`. */
export function pngSizes(values: Float64Array, n: number, shape: readonly number[]): number[] {
  const [c, h, w] = shape;
  const d = c * h * w;
  return Array.from({ length: n }, (_, i) => {
    const pixels = toPixelBytes(values.subarray(i * d, (i + 1) * d));
    // one cell of a grid is the image with its channels interleaved, and no gaps
    const g = imageGrid({ n: 1, shape: [c, h, w], pixels });
    return encodePng(g.pixels, g.width, g.height, g.channels).length;
  });
}

/** Writes `index,png_bytes,neg_logp_nats,bits_per_dim` rows and returns the correlations. */
export async function writeDetailReport(
  out: string,
  values: Float64Array,
  logp: Float64Array,
  shape: readonly number[],
): Promise<DetailReport> {
  const n = logp.length, D = sizeOf(shape);
  const sizes = pngSizes(values, n, shape);
  const nll = Array.from(logp, (v) => -v);
  const rows = nll.map((v, i) => `${i},${sizes[i]},${v},${v / (D * Math.LN2)}`);
  const file = detailReportPath(out);
  await writeFileAtomic(
    file,
    ["index,png_bytes,neg_logp_nats,bits_per_dim", ...rows].join("\n") + "\n",
  );
  return { file, n, pearson: pearson(sizes, nll), spearman: spearman(sizes, nll) };
}

/** One line for a person: the correlations and where the rows went. */
export function detailReportLine(d: DetailReport): string {
  return `PNG bytes vs −log p_0 over ${d.n} images: Pearson ${d.pearson.toFixed(3)}, ` +
    `Spearman ${d.spearman.toFixed(3)} (${d.file})`;
}

/** `--detail-report` needs images [C, H, W] and at least two of them to correlate. */
export function checkDetailReport(n: number, shape: readonly number[], model: string): void {
  if (n < 2) throw new UsageError("--detail-report correlates ≥ 2 samples; raise --n");
  if (shape.length !== 3) {
    throw new UsageError(
      `--detail-report measures PNG sizes of images [C, H, W]; ${model} has samples of shape [${shape}]`,
    );
  }
}
