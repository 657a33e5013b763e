/**
 * The program as a whole: `--version`, one line (no stack) for failures the user can fix,
 * `--debug` / LIKELIHOOD_DEBUG=1 for every stack, and checks that come before long work.
 */

import assert from "node:assert/strict";
import { runMain } from "./_helpers/cli.ts";
import { VERSION } from "../version.ts";
import { exitCodeOf, formatError, InputError, RuntimeFailure, UsageError } from "../io/errors.ts";

const STACK = /at .*\.ts:\d+/;
const dir = await Deno.makeTempDir({ prefix: "cli_program_" });

Deno.test("--version prints the version constant and exits 0", async () => {
  const r = await runMain(["--version"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), VERSION);
  assert.match(VERSION, /^\d+\.\d+\.\d+/);
});

Deno.test("--backend webgpu with no adapter: exit 1, one line naming the flag, no stack", async () => {
  // an unknown wgpu backend list leaves Deno with no adapter at all
  const r = await runMain([
    "sample",
    "--model",
    "gmm:fixtures/mix2d.json",
    "--backend",
    "webgpu",
    "--out",
    `${dir}/x.json`,
  ], { DENO_WEBGPU_BACKEND: "none" });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^error: --backend webgpu: no WebGPU adapter found/m);
  assert.doesNotMatch(r.stderr, STACK);
});

Deno.test("--debug and LIKELIHOOD_DEBUG=1 show the stack of a user error; by default it is one line", async () => {
  const args = ["--model", "gmm:/nonexistent/m.json", "--backend", "reference", "--out"];
  const [plain, flagBefore, flagAfter, env] = await Promise.all([
    runMain(["sample", ...args, `${dir}/a.json`]),
    runMain(["--debug", "sample", ...args, `${dir}/b.json`]),
    runMain(["sample", ...args, `${dir}/c.json`, "--debug"]),
    runMain(["sample", ...args, `${dir}/d.json`], { LIKELIHOOD_DEBUG: "1" }),
  ]);
  for (const r of [plain, flagBefore, flagAfter, env]) {
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /error: \/nonexistent\/m\.json: cannot read the mixture file/);
  }
  assert.doesNotMatch(plain.stderr, STACK);
  for (const r of [flagBefore, flagAfter, env]) assert.match(r.stderr, STACK);
});

Deno.test("eval-nll --bound lm without a covariance head is refused before the data is read", async () => {
  // the data file does not exist: a check made after loading the data would report that instead
  const r = await runMain([
    "eval-nll",
    "--model",
    "gmm:fixtures/mix2d.json",
    "--data",
    `points:${dir}/missing.csv`,
    "--bound",
    "lm",
    "--backend",
    "reference",
    "--quiet",
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--bound lm needs a covariance head: gmm:fixtures\/mix2d\.json/);
  assert.doesNotMatch(r.stderr, /missing\.csv/);
});

Deno.test("formatError: one line for user errors, runtime failures and refused file operations; stacks with debug", () => {
  const cases = [
    new UsageError("--n must be a positive integer, got 0"),
    new InputError("x.csv: line 2 (data row 2), column 2 is empty; expected a number"),
    new RuntimeFailure("--backend webgpu: no WebGPU adapter found"),
    new Deno.errors.PermissionDenied("Permission denied (os error 13): open '/ro/x.png'"),
    new Deno.errors.IsADirectory("Is a directory (os error 21): rename 'x.tmp' -> 'out.png'"),
  ];
  for (const e of cases) {
    assert.equal(formatError(e), `error: ${e.message}`, e.name);
    assert.match(formatError(e, true), STACK, `${e.name} with debug`);
    assert.equal(exitCodeOf(e), e instanceof UsageError ? 2 : e instanceof InputError ? 3 : 1);
  }
  assert.match(formatError(new TypeError("a bug")), STACK, "an internal failure keeps its stack");
});
