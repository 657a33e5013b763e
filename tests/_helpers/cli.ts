/** Spawning the program as a user would (STYLE 15): exit code, stdout and stderr. */

export const ROOT = new URL("../..", import.meta.url).pathname;

/** The permission flags the tasks carry, then main.ts. */
export const MAIN = [
  "run",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
  "main.ts",
];

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `deno <args>` in the repository root, no standard input, the environment plus `env`. */
export async function runDeno(
  args: string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  const out = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, env, stdin: "null" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `deno run <permissions> main.ts <args>`, with extra environment variables `env`. */
export function runMain(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return runDeno([...MAIN, ...args], env);
}
