/**
 * `import`: a published PyTorch checkpoint → this toolkit's checkpoint format (weights, the
 * network's configuration, the process and the parameterisation), which eval-nll, sample,
 * hd-mode, guidance and `train --init` then take with `--ckpt` like any trained run.
 * Each format has its own file (`cli/import_<format>.ts`); this one holds the flags and
 * picks the format.
 */

import type { Command } from "commander";
import { UsageError } from "../io/errors.ts";
import { SCORE_SDE_CONFIGS } from "../nn/import/score_sde.ts";
import { IDODE_CONFIGS } from "../nn/import/idode.ts";
import { importScoreSde } from "./import_score_sde.ts";
import { importEdm } from "./import_edm.ts";
import { importIdode } from "./import_idode.ts";
import type { OptionKeys } from "./options.ts";

export const describe =
  "import a published checkpoint (score_sde, EDM, i-DODE) as a checkpoint here";

export interface ImportFlags {
  out?: string;
  config?: string;
  weights: "ema" | "raw";
  quiet?: boolean;
}

export const optionKeys = {
  out: true,
  config: true,
  weights: true,
  quiet: true,
} as const satisfies OptionKeys<ImportFlags>;

/** A format's importer: reads `source`, writes `f.out` atomically, reports unless quiet. */
type Importer = (source: string, f: ImportFlags & { out: string }) => Promise<void>;

const FORMATS: Record<string, { importer: Importer; source: string }> = {
  "score-sde": { importer: importScoreSde, source: "score_sde_pytorch's checkpoint_N.pth" },
  edm: { importer: importEdm, source: "EDM's network-snapshot-N.pkl" },
  "i-dode": { importer: importIdode, source: "i-DODE's checkpoints-0/ckpt-N.flax or its folder" },
};

export function register(cmd: Command): void {
  cmd
    .argument("<format>", `checkpoint format: ${Object.keys(FORMATS).join(", ")}`)
    .argument(
      "<source>",
      `the checkpoint file (${
        Object.entries(FORMATS).map(([k, v]) => `${k}: ${v.source}`).join("; ")
      })`,
    )
    .option("--out <file>", "where the imported checkpoint goes (.safetensors; required)")
    .option(
      "--config <name|file>",
      `the model's configuration (score-sde, i-dode; edm snapshots carry their own): one of score_sde's configs (${
        Object.keys(SCORE_SDE_CONFIGS).join(", ")
      }) or i-DODE's (${Object.keys(IDODE_CONFIGS).join(", ")}), or a JSON file of the same fields`,
    )
    .option(
      "--weights <kind>",
      "the EMA weights (as the original evaluates) or the raw ones",
      "ema",
    )
    .option("--quiet", "no summary on stderr")
    .addHelpText(
      "after",
      `
Examples:
  deno run -P main.ts import score-sde checkpoint_26.pth --config vp/cifar10_ddpmpp_continuous --out ddpmpp.safetensors
  deno run -P main.ts import score-sde checkpoint_8.pth --config my_config.json --weights raw --out raw.safetensors
  deno run -P main.ts import edm edm-cifar10-32x32-cond-vp.pkl --out edm.safetensors
  deno run -P main.ts import i-dode checkpoints-0 --config cifar10-sp --out idode_sp.safetensors
  deno task eval-nll --ckpt ddpmpp.safetensors --data cifar10:~/data/cifar-10-batches-bin --limit 16`,
    )
    .action(async (format: string, source: string, f: ImportFlags) => {
      const entry = FORMATS[format];
      if (!entry) {
        throw new UsageError(
          `import: unknown format ${JSON.stringify(format)} (expected ${
            Object.keys(FORMATS).join(", ")
          })`,
        );
      }
      if (!f.out) throw new UsageError("import needs --out FILE.safetensors");
      if (f.weights !== "ema" && f.weights !== "raw") {
        throw new UsageError(`--weights must be ema or raw, got ${JSON.stringify(f.weights)}`);
      }
      await entry.importer(source, { ...f, out: f.out });
    });
}
