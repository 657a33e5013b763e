import assert from "node:assert/strict";
import { runDeno } from "./_helpers/cli.ts";

const run = runDeno;

Deno.test("plain `deno run main.ts` names the exact permission flags and exits 2", async () => {
  const r = await run(["run", "--no-prompt", "main.ts", "eval-nll"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /deno run -P main\.ts eval-nll/);
  assert.match(r.stderr, /--allow-read --allow-write --allow-env --allow-ffi main\.ts eval-nll/);
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
