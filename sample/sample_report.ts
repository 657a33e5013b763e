/**
 * Reporting a `sample` run: one JSON document on stdout or a few labelled lines, with the
 * detail report's correlations (`detail_report.ts`) when one was written.
 */

import { meanStderr } from "../io/statistics.ts";
import { type DetailReport, detailReportLine } from "./detail_report.ts";

/** Per-sample log p_{t_min} with its mean, standard error and bits/dim in model space. */
export function logpSummary(logp: Float64Array, D: number) {
  const { mean: m, stderr: se } = meanStderr(logp);
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
  // EDM's last step goes from σ/α at t_min to σ/α = 0: its samples are denoised, at t = 0
  const end = doc.sampler === "edm" ? `${doc.t_min}, then denoised (σ/α = 0)` : `${doc.t_min}`;
  console.log(
    `sampler         ${doc.sampler} (${how}), ${sde.kind} process, t from ${doc.t_max} to ${end}`,
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
  if (detail) console.log(`detail          ${detailReportLine(detail)}`);
  console.log(`time            ${f(doc.seconds, 1)} s on ${doc.backend}`);
}
