/** What `train` prints at its end: the summary as JSON, or a few lines for a person. */

export function printTrainSummary(s: Record<string, unknown>, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(s, null, 2));
    return;
  }
  const h = s.heldout as {
    n: number;
    nll_nats: number;
    nll_stderr: number;
    bpd: number;
    bpd_stderr: number;
    dequantization: string;
    divergence: string;
  };
  console.log(`trained         ${stepsLine(s)} on ${s.backend} → ${s.out}`);
  console.log(`final loss      ${(s.final_loss as number | null)?.toFixed(4) ?? "n/a"}`);
  console.log(
    `held-out NLL    ${h.nll_nats.toFixed(4)} ± ${h.nll_stderr.toFixed(4)} nats per example ` +
      `(${h.n} examples, PF-ODE, ${h.divergence} divergence, EMA weights)`,
  );
  if (h.dequantization !== "none") {
    console.log(
      `bits/dim        ${h.bpd.toFixed(4)} ± ${h.bpd_stderr.toFixed(4)} ` +
        `(${h.dequantization} dequantisation, 1 draw; ${h.divergence} divergence` +
        `${h.divergence === "hutchinson" ? ", 1 probe per example" : ""})`,
    );
  }
  const lm =
    (s.heldout as { lm_bound: { nll_nats: number; nll_stderr: number; steps: number } | null })
      .lm_bound;
  if (lm) {
    console.log(
      `LM chain bound  ${lm.nll_nats.toFixed(4)} ± ${lm.nll_stderr.toFixed(4)} nats per example ` +
        `(${lm.steps} steps, one forward path per example)`,
    );
  }
  if (s.samples_png) console.log(`samples         ${s.samples_png}`);
  if (typeof s.data_entropy_nats === "number") {
    console.log(
      `data entropy    ${
        s.data_entropy_nats.toFixed(4)
      } nats (Monte Carlo; the NLL cannot go below it on average): ` +
        `gap ${(h.nll_nats - s.data_entropy_nats).toFixed(4)}`,
    );
  }
}

/** This invocation's steps: "20 steps in 1.2 s", "15 steps (6–20, resumed from step 5) in …". */
function stepsLine(s: Record<string, unknown>): string {
  const total = s.steps as number, done = s.steps_this_run as number;
  const from = s.resumed_from as number | null;
  if (done === 0) return `no new steps (the run was at step ${total}; final evaluation only)`;
  const span = from === null ? "" : ` (${from + 1}–${total}, resumed from step ${from})`;
  return `${done} steps${span} in ${(s.seconds_training as number).toFixed(1)} s`;
}
