/**
 * The report every `hd-mode` and `guidance` run ends with: the samples written where `--out`
 * says (with `--detail-report`, each image's PNG size beside its −log p_0 next to them), then
 * either one JSON document on stdout (settings, t_min and t_max, NFE, log p_0 per sample in
 * order, timing, backend) or a few lines for a person. Density guidance adds its realised shift
 * against the PF-ODE baseline (`guidance/realised_shift.ts`).
 */

import { writeSamples } from "../output.ts";
import { type DetailReport, detailReportLine, writeDetailReport } from "../detail_report.ts";
import type { FlowSettings, FlowSetup } from "./batches.ts";
import type { FlowResult } from "./segments.ts";

/** The settings every flow report records beside those of the batch loop. */
export interface FlowReportSettings extends FlowSettings {
  rtol: number;
  atol: number;
  steps?: number;
  json?: boolean;
}

/** Writes the samples and returns the report fields every command shares. */
export async function commonReport(
  s: FlowSetup,
  f: FlowReportSettings,
  command: string,
  results: FlowResult[],
): Promise<Record<string, unknown>> {
  const x = results.flatMap((r) => Array.from(r.x));
  await writeSamples(f.out, x, f.n, s.model.shape);
  const logp = results.flatMap((r) => Array.from(r.logp));
  const nfe = results.flatMap((r) => Array.from(r.nfePerExample));
  const detail = f.detailReport
    ? await writeDetailReport(f.out, Float64Array.from(x), Float64Array.from(logp), s.model.shape)
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
  s: FlowSetup,
  f: FlowReportSettings,
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
