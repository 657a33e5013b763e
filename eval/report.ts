/** Printing an eval-nll result: one JSON document on stdout, or a few labelled lines. */

import type { ComputeRecord } from "../compute/batch_invariance.ts";

export function printSummary(doc: Record<string, unknown>, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(doc, null, 2));
    return;
  }
  const f = (v: unknown, d = 4) => (typeof v === "number" ? v.toFixed(d) : String(v));
  const dequant = doc.dequantization === "none"
    ? "continuous data, no dequantisation"
    : `${doc.dequantization} dequantisation, ${doc.dequant_samples} sample(s)`;
  const div = doc.divergence === "exact"
    ? "exact divergence"
    : `Hutchinson (${doc.probe}), ${doc.probes} probe(s)`;
  console.log(`examples        ${doc.n}  (${doc.data})`);
  console.log(
    `model           ${doc.model}, ${
      (doc.sde as { kind: string }).kind
    } process, t ∈ [${doc.t_min}, ${doc.t_max}]`,
  );
  console.log(`NLL             ${f(doc.nll_nats)} ± ${f(doc.nll_stderr)} nats per example`);
  console.log(
    `bits/dim        ${f(doc.bpd)} ± ${
      f(doc.bpd_stderr)
    }  [${dequant}; ${div}; prior ${doc.prior}]`,
  );
  console.log(`NFE             ${f(doc.nfe_mean, 1)} per example (mean)`);
  const bound = doc.bound as
    | {
      nll_nats: number;
      bpd: number;
      bpd_stderr: number;
      samples: number;
      prior: string;
      dequantization: string;
      bpd_offset: number;
      parts: Record<string, number>;
    }
    | undefined;
  if (bound) {
    const dequantPart = bound.dequantization === "none"
      ? ""
      : `, ${bound.dequantization} dequantisation ${f(bound.parts.dequantization)}` +
        (bound.bpd_offset ? ` (+${f(bound.bpd_offset, 3)} bits/dim)` : "");
    console.log(
      `ScoreFlow bound ${f(bound.bpd)} ± ${f(bound.bpd_stderr)} bits/dim (${
        f(bound.nll_nats)
      } nats; ` +
        `prior ${f(bound.parts.prior)} [${bound.prior}], diffusion ${
          f(bound.parts.diffusion)
        }, offset ${f(bound.parts.offset)}${dequantPart}; ` +
        `${bound.samples} times per example)`,
    );
  }
  const lm = doc.lm_bound as
    | { steps: number; nll_nats: number; bpd: number; bpd_stderr: number }
    | undefined;
  if (lm) {
    console.log(
      `LM chain bound  ${f(lm.bpd)} ± ${f(lm.bpd_stderr)} bits/dim (${f(lm.nll_nats)} nats; ` +
        `${lm.steps} steps, one forward path per example)`,
    );
  }
  const compute = doc.compute as ComputeRecord | undefined;
  if (compute) {
    const kernels = Object.entries(compute.kernels).map(([k, v]) => `${k} ${v.join("/")}`);
    console.log(
      `computed with   ${compute.backend} (${compute.adapter}), ${compute.dtype}` +
        (kernels.length ? `; kernels ${kernels.join(", ")}` : ""),
    );
  }
  if (typeof doc.seconds === "number") {
    console.log(`time            ${doc.seconds.toFixed(1)} s on ${doc.backend}`);
  }
}
