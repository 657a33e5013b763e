/** Error kinds that map to the documented exit codes (0 ok, 1 runtime, 2 usage, 3 bad input). */

/** A flag or argument is unknown, conflicting or out of range. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A dataset, checkpoint or spec file is missing, truncated or malformed. */
export class InputError extends Error {
  override name = "InputError";
}

/**
 * The run cannot go on for a reason outside the program (no WebGPU adapter, an output that
 * cannot be written): exit 1 with one line, like the user errors, rather than a stack.
 */
export class RuntimeFailure extends Error {
  override name = "RuntimeFailure";
}

export function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError) return 2;
  // an interrupted run that saved its checkpoint (SIGINT's conventional 128 + 2)
  if (e instanceof Error && e.name === "Interrupted") return 130;
  if (e instanceof InputError) return 3;
  return 1;
}

/**
 * One line for a user mistake or a failure outside the program; the stack only for internal
 * failures, or for every error when `debug` is set (`--debug`, `LIKELIHOOD_DEBUG=1`).
 */
export function formatError(e: unknown, debug = false): string {
  if (e instanceof Error && e.name === "Interrupted") return e.message;
  if (!(e instanceof Error)) return `error: ${String(e)}`;
  const expected = e instanceof UsageError || e instanceof InputError ||
    e instanceof RuntimeFailure || isFileSystemError(e);
  if (expected && !debug) return `error: ${e.message}`;
  return `error: ${e.message}\n${e.stack ?? ""}`;
}

/**
 * The operating system refused a file operation (read-only folder, a directory where a file
 * was expected, …): its message names the path, so it reads as a user's problem, not a bug.
 */
function isFileSystemError(e: Error): boolean {
  const fs = Deno.errors;
  return [fs.PermissionDenied, fs.NotFound, fs.IsADirectory, fs.NotADirectory, fs.AlreadyExists]
    .some((kind) => e instanceof kind) || e.name === "NotCapable";
}
