/**
 * `hd-mode`: the high-density sampler (docs/MATH.md §5): PF-ODE from T to a threshold time, then the
 * high-density ODE to t_min, with each result's log p_{t_min} tracked and the samples written
 * where `--out` says.
 */

import type { Command } from "commander";
import { UsageError } from "../io/errors.ts";
import { hdModeSample } from "../sample/hd/hd_mode.ts";
import { forEachBatch } from "../sample/flow/batches.ts";
import { commonReport, printReport } from "../sample/flow/report.ts";
import { numberFlag } from "./flags.ts";
import { addFlowOptions, FLOW_OPTION_KEYS, type FlowFlags, openFlow } from "./flow_command.ts";
import type { OptionKeys } from "./options.ts";

interface HdFlags extends FlowFlags {
  threshold?: number;
  thresholdLambda?: number;
}

export const describe = "high-density samples: PF-ODE to a threshold, then the high-density ODE";

export const optionKeys = {
  ...FLOW_OPTION_KEYS,
  threshold: true,
  thresholdLambda: true,
} as const satisfies OptionKeys<Omit<HdFlags, "weights">>;

export function register(cmd: Command): void {
  addFlowOptions(
    cmd
      .usage("(--model gmm:FILE | --ckpt FILE) --out FILE [options]")
      .option(
        "--threshold <t>",
        "time in [t_min, T] where the HD ODE takes over (default T: HD from the start)",
        numberFlag("--threshold", "a number", () => true),
      )
      .option(
        "--threshold-lambda <l>",
        "the threshold as a log-SNR λ (converted by the process's λ⁻¹)",
        numberFlag("--threshold-lambda", "a number", () => true),
      ),
  )
    .addHelpText(
      "after",
      `
Examples:
  deno run -P main.ts hd-mode --model gmm:fixtures/mix2d.json --threshold-lambda 2 --n 64 --out hd.png
  deno run -P main.ts hd-mode --model gmm:fixtures/mix10d.json --threshold 1 --divergence exact --prior exact --out hd.npy --json
  deno run -P main.ts hd-mode --ckpt runs/mnist/ckpt.safetensors --threshold 0.3 --n 16 --detail-report --out hd_mnist.png`,
    )
    .action(async (opts: HdFlags) => {
      await runHdMode(opts);
    });
}

async function runHdMode(flags: HdFlags): Promise<void> {
  if (flags.threshold !== undefined && flags.thresholdLambda !== undefined) {
    throw new UsageError("--threshold and --threshold-lambda conflict: give one of them");
  }
  const { s, settings: f } = await openFlow(flags, "hd-mode");
  const { sde, tMin } = s;
  const threshold = f.thresholdLambda !== undefined
    ? sde.timeOfLogSnr(f.thresholdLambda)
    : f.threshold ?? sde.T;
  if (!(threshold >= tMin && threshold <= sde.T)) {
    const flag = f.thresholdLambda !== undefined
      ? `--threshold-lambda ${f.thresholdLambda} (t = ${threshold})`
      : `--threshold ${threshold}`;
    throw new UsageError(`${flag} must lie in [t_min, T] = [${tMin}, ${sde.T}]`);
  }
  const score = s.model.score.bind(s.model);
  const results = await forEachBatch(
    s,
    f,
    "hd-mode",
    (b) => hdModeSample(score, sde, b.xT, { ...b.solve, tThreshold: threshold }),
  );
  const doc = await commonReport(s, f, "hd-mode", results);
  doc.threshold = threshold;
  doc.threshold_lambda = sde.logSnr(threshold);
  printReport(s, f, doc, [
    `hd-mode: PF-ODE from T = ${sde.T} to ${threshold.toPrecision(6)} (λ = ${
      sde.logSnr(threshold).toFixed(3)
    }), then the HD ODE to t_min = ${tMin}`,
    `mean log p_0 ${
      (doc.logp_mean as number).toFixed(4)
    } nats (prior ${f.prior}, divergence ${f.divergence}), mean NFE ${
      (doc.nfe_mean as number).toFixed(1)
    }`,
  ]);
}
