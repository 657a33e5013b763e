/**
 * Command-line entry: a table of subcommands, each a `run(args)` in its own command module.
 * Only this file exits; library code throws `UsageError`/`InputError` and returns.
 */

import { Command, CommanderError } from "@commander-js/extra-typings";
import { exitCodeOf, formatError } from "./io/errors.ts";

/** Subcommands that work today; each module registers its options on the given command. */
const subcommands: Record<string, { describe: string; register: (cmd: Command) => void }> = {};

export function buildProgram(): Command {
  const program = new Command()
    .name("likelihood")
    .description(
      "Likelihood in diffusion models: train, exact NLL in bits/dim, sampling, density guidance",
    )
    .showSuggestionAfterError(true)
    .exitOverride();
  for (const [name, sub] of Object.entries(subcommands)) {
    const cmd = new Command(name).description(sub.describe).exitOverride();
    sub.register(cmd);
    program.addCommand(cmd);
  }
  return program;
}

if (import.meta.main) {
  try {
    await buildProgram().parseAsync(Deno.args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) Deno.exit(e.exitCode === 0 ? 0 : 2);
    console.error(formatError(e));
    Deno.exit(exitCodeOf(e));
  }
}
