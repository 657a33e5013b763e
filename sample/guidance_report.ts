/**
 * The report every `hd-mode` and `guidance` run ends with: the samples written where `--out`
 * says, then either one JSON document on stdout (settings, t_min and t_max, NFE, log p_0 per
 * sample in order, timing, backend) or a few lines for a person.
 */

import { writeSamples } from "./output.ts";
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
  console.log(
    `${f.n} samples written to ${f.out} in ${
      (doc.seconds as number).toFixed(1)
    } s (${s.backend.name})`,
  );
}
