/** Spawning the program as a user would (STYLE 15): exit code, stdout and stderr. */

export const ROOT = new URL("../..", import.meta.url).pathname;

/** The permission flags the tasks carry, then main.ts. */
export const MAIN = ["run", "--allow-read", "--allow-write", "--allow-env", "main.ts"];

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `deno <args>` in the repository root, no standard input. */
export async function runDeno(args: string[]): Promise<RunResult> {
  const out = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, stdin: "null" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `deno run <permissions> main.ts <args>`. */
export function runMain(args: string[]): Promise<RunResult> {
  return runDeno([...MAIN, ...args]);
}
