import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), { args, cwd: root, stdin: "null" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("plain `deno run main.ts` names the exact permission flags and exits 2", async () => {
  const r = await run(["run", "--no-prompt", "main.ts", "eval-nll"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /deno run -P main\.ts eval-nll/);
  assert.match(r.stderr, /--allow-read --allow-write --allow-env main\.ts eval-nll/);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, "no stack trace for a usage problem");
});

Deno.test("`main.ts --help` lists the program and exits 0", async () => {
  const r = await run(["run", "--allow-read", "--allow-write", "--allow-env", "main.ts", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: likelihood/);
});

Deno.test("an unknown subcommand is a usage error (exit 2) without a stack trace", async () => {
  const r = await run(["run", "--allow-read", "--allow-write", "--allow-env", "main.ts", "trian"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command|too many arguments|error/i);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
});
