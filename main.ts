/**
 * Command-line entry: a table of subcommands, each registered by its module in `cli/`.
 * Only this file exits; library code throws `UsageError`/`InputError` and returns.
 */

import { Command, CommanderError } from "commander";
import { exitCodeOf, formatError } from "./io/errors.ts";
import { VERSION } from "./version.ts";
import * as evalNll from "./cli/eval_nll.ts";
import * as guidance from "./cli/guidance.ts";
import * as hdMode from "./cli/hd_mode.ts";
import * as importCommand from "./cli/import.ts";
import * as sample from "./cli/sample.ts";
import * as train from "./cli/train.ts";
import * as trainDequantizer from "./cli/train_dequantizer.ts";

/** Subcommands that work today; each module registers its options on the given command. */
export const subcommands: Record<
  string,
  { describe: string; register: (cmd: Command) => void; optionKeys: Record<string, true> }
> = {
  train,
  "eval-nll": evalNll,
  sample,
  "hd-mode": hdMode,
  guidance,
  import: importCommand,
  "train-dequantizer": trainDequantizer,
};

export function buildProgram(): Command {
  const program = new Command()
    .name("likelihood")
    .description(
      "Likelihood in diffusion models: train, exact NLL in bits/dim, sampling, density guidance",
    )
    .version(VERSION, "--version", "print the version and exit")
    .option("--debug", "show the stack trace of every error (or set LIKELIHOOD_DEBUG=1)")
    .showSuggestionAfterError(true)
    .exitOverride();
  for (const [name, sub] of Object.entries(subcommands)) {
    const cmd = new Command(name).description(sub.describe).exitOverride();
    sub.register(cmd);
    program.addCommand(cmd);
  }
  return program;
}

/** `deno run main.ts …` without flags cannot read data or write runs: say how to start it. */
function missingPermissions(): string | null {
  const needed: Deno.PermissionName[] = ["read", "write", "env"];
  const missing = needed.filter((name) => Deno.permissions.querySync({ name }).state !== "granted");
  if (missing.length === 0) return null;
  const args = Deno.args.join(" ");
  return [
    `likelihood needs ${
      missing.join(", ")
    } permission(s) to read data and write results. Run it as`,
    `  deno run -P main.ts ${args}     (permissions from deno.json)`,
    `  deno run --allow-read --allow-write --allow-env --allow-ffi main.ts ${args}`,
    `or through a task: deno task train, deno task eval-nll …`,
  ].join("\n");
}

if (import.meta.main) {
  const hint = missingPermissions();
  if (hint) {
    console.error(hint);
    Deno.exit(2);
  }
  const program = buildProgram();
  try {
    await program.parseAsync(Deno.args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) Deno.exit(e.exitCode === 0 ? 0 : 2);
    const debug = (program.opts() as { debug?: boolean }).debug === true ||
      Deno.env.get("LIKELIHOOD_DEBUG") === "1";
    console.error(formatError(e, debug));
    Deno.exit(exitCodeOf(e));
  }
}
