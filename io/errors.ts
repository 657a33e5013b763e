/** Error kinds that map to the documented exit codes (0 ok, 1 runtime, 2 usage, 3 bad input). */

/** A flag or argument is unknown, conflicting or out of range. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A dataset, checkpoint or spec file is missing, truncated or malformed. */
export class InputError extends Error {
  override name = "InputError";
}

export function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError) return 2;
  // an interrupted run that saved its checkpoint (SIGINT's conventional 128 + 2)
  if (e instanceof Error && e.name === "Interrupted") return 130;
  if (e instanceof InputError) return 3;
  return 1;
}

/** One line for a user mistake; the stack only for internal failures. */
export function formatError(e: unknown): string {
  if (e instanceof UsageError || e instanceof InputError) return `error: ${e.message}`;
  if (e instanceof Error && e.name === "Interrupted") return e.message;
  if (e instanceof Error) return `error: ${e.message}\n${e.stack ?? ""}`;
  return `error: ${String(e)}`;
}
