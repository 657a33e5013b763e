/**
 * The report every `hd-mode` and `guidance` run ends with: the samples written where `--out`
 * says (with `--detail-report`, each image's PNG size beside its −log p_0 next to them), then
 * either one JSON document on stdout (settings, t_min and t_max, NFE, log p_0 per sample in
 * order, timing, backend) or a few lines for a person. Density guidance adds its realised shift
 * against the PF-ODE baseline (docs/MATH.md §5).
 */

import { writeSamples } from "./output.ts";
import { type DetailReport, detailReportLine, writeDetailReport } from "./detail_report.ts";
import type { CommonFlags, Setup } from "./guidance_common.ts";
import type { FlowResult } from "./guidance_segments.ts";

/** Writes the samples and returns the report fields every command shares. */
export async function commonReport(
  s: Setup,
  f: CommonFlags,
  command: string,
  results: FlowResult[],
): Promise<Record<string, unknown>> {
  const x = results.flatMap((r) => Array.from(r.x));
  await writeSamples(f.out!, x, f.n, s.model.shape);
  const logp = results.flatMap((r) => Array.from(r.logp));
  const nfe = results.flatMap((r) => Array.from(r.nfePerExample));
  const detail = f.detailReport
    ? await writeDetailReport(f.out!, Float64Array.from(x), Float64Array.from(logp), s.model.shape)
    : undefined;
  return {
    command,
    model: s.model.description,
    n: f.n,
    dim: s.D,
    sde: { kind: s.sde.kind, params: { ...s.sde.params } },
    t_min: s.tMin,
    t_max: s.sde.T,
    rtol: f.rtol,
    atol: f.atol,
    steps: f.steps ?? null,
    divergence: f.divergence,
    prior: f.prior,
    seed: f.seed,
    nfe_mean: nfe.reduce((a, b) => a + b, 0) / nfe.length,
    logp_nats: logp,
    logp_mean: logp.reduce((a, b) => a + b, 0) / logp.length,
    ...(detail ? { detail_report: detail } : {}),
    out: f.out,
  };
}

/** Prints the report: one JSON document, or a few lines for a person. */
export function printReport(
  s: Setup,
  f: CommonFlags,
  doc: Record<string, unknown>,
  lines: string[],
) {
  doc.seconds = (performance.now() - s.started) / 1000;
  doc.backend = s.backend.name;
  if (f.json) {
    console.log(JSON.stringify(doc, null, 2));
    return;
  }
  for (const line of lines) console.log(line);
  const detail = doc.detail_report as DetailReport | undefined;
  if (detail) console.log(`detail: ${detailReportLine(detail)}`);
  console.log(
    `${f.n} samples written to ${f.out} in ${
      (doc.seconds as number).toFixed(1)
    } s (${s.backend.name})`,
  );
}

/** A guided batch, with the tracked log p_0 of its PF-ODE baseline where a shift is predicted. */
export type GuidedResult = FlowResult & { baselineLogp?: Float64Array };

/**
 * The realised shift: the mean over samples of log p_0(guided) − log p_0(PF-ODE), both tracked
 * from the same latent, with the standard error of that paired mean.
 */
export function realisedShift(results: GuidedResult[]) {
  const diffs = results.flatMap((r) => Array.from(r.logp, (v, i) => v - r.baselineLogp![i]));
  const baseline = results.flatMap((r) => Array.from(r.baselineLogp!));
  const n = diffs.length, mean = diffs.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? diffs.reduce((a, d) => a + (d - mean) ** 2, 0) / (n - 1) : NaN;
  return {
    mean,
    stderr: Math.sqrt(variance / n),
    baselineMean: baseline.reduce((a, b) => a + b, 0) / n,
  };
}
