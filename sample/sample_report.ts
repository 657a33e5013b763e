/**
 * Reporting a `sample` run: one JSON document on stdout or a few labelled lines, and the
 * detail report of MATH.md §5 — each image's own PNG size beside its −log p_0, written as CSV
 * next to `--out`, with Pearson and Spearman correlations across the samples.
 */

import { writeFileAtomic } from "../io/atomic.ts";
import { encodePng, imageGrid, toPixelBytes } from "../io/png.ts";
import { pearson, spearman } from "./detail_report.ts";

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
  const n = logp.length, D = shape.reduce((p, s) => p * s, 1);
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

/** Per-sample log p_{t_min} with its mean, standard error and bits/dim in model space. */
export function logpSummary(logp: Float64Array, D: number) {
  const n = logp.length;
  const m = logp.reduce((s, v) => s + v, 0) / n;
  const se = n > 1 ? Math.sqrt(logp.reduce((s, v) => s + (v - m) ** 2, 0) / (n - 1) / n) : NaN;
  return {
    logp_nats: Array.from(logp),
    logp_mean: m,
    logp_stderr: se,
    // a continuous density in model space: no dequantisation offset
    bpd: -m / (D * Math.LN2),
    bpd_stderr: se / (D * Math.LN2),
  };
}

export function printSampleSummary(doc: Record<string, unknown>, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(doc, null, 2));
    return;
  }
  const f = (v: unknown, d = 4) => (typeof v === "number" ? v.toFixed(d) : String(v));
  const sde = doc.sde as { kind: string };
  const how = doc.sampler === "ode"
    ? `Dormand–Prince, rtol ${doc.rtol}, atol ${doc.atol}, ${f(doc.steps, 1)} steps per sample`
    : doc.sampler === "pc"
    ? `${doc.steps} steps, ${doc.corrector_steps} Langevin step(s) each at snr ${doc.snr}`
    : `${doc.steps} steps`;
  console.log(`samples         ${doc.n} of ${doc.model} → ${doc.out}`);
  console.log(
    `sampler         ${doc.sampler} (${how}), ${sde.kind} process, t from ${doc.t_max} to ${doc.t_min}`,
  );
  console.log(`NFE             ${f(doc.nfe_mean, 1)} per sample (mean)`);
  if (doc.track_logp) {
    const div = doc.divergence === "exact" ? "exact divergence" : `Hutchinson (${doc.probe})`;
    console.log(
      `log p_0         ${f(doc.logp_mean)} ± ${f(doc.logp_stderr)} nats per sample, ` +
        `${f(doc.bpd)} ± ${f(doc.bpd_stderr)} bits/dim in model space [${div}; prior ${doc.prior}]`,
    );
  }
  const detail = doc.detail_report as DetailReport | undefined;
  if (detail) {
    console.log(
      `detail          PNG bytes vs −log p_0 over ${detail.n} images: Pearson ${
        f(detail.pearson, 3)
      }, Spearman ${f(detail.spearman, 3)} (${detail.file})`,
    );
  }
  console.log(`time            ${f(doc.seconds, 1)} s on ${doc.backend}`);
}
