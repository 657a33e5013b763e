/**
 * Each command's action receives its options as a typed flags interface; `optionKeys` lists that
 * interface's keys (a type error if one is missing or extra), and this test ties the list to the
 * options the command really registers, so a flag added, renamed or dropped on one side only
 * fails here rather than reaching the action as an undeclared or always-undefined field.
 */

import assert from "node:assert/strict";
import { buildProgram, subcommands } from "../main.ts";

Deno.test("every command registers exactly the options its flags interface lists", () => {
  const program = buildProgram();
  const names = Object.keys(subcommands);
  assert.deepEqual(program.commands.map((c) => c.name()).sort(), [...names].sort());
  for (const cmd of program.commands) {
    const registered = cmd.options.map((o) => o.attributeName()).sort();
    const listed = Object.keys(subcommands[cmd.name()].optionKeys).sort();
    assert.deepEqual(registered, listed, `${cmd.name()}: registered options vs optionKeys`);
    assert.equal(new Set(registered).size, registered.length, `${cmd.name()}: an option twice`);
  }
});

Deno.test("parsed options arrive under the interface's names, defaults included", async () => {
  const seen: Record<string, unknown>[] = [];
  const program = buildProgram();
  const sample = program.commands.find((c) => c.name() === "sample")!;
  sample.action((opts: Record<string, unknown>) => {
    seen.push(opts);
  });
  await program.parseAsync(
    ["sample", "--model", "gmm:m.json", "--t-min", "0.01", "--no-autotune", "--out", "x.npy"],
    { from: "user" },
  );
  assert.equal(seen.length, 1);
  const o = seen[0];
  assert.equal(o.tMin, 0.01);
  assert.equal(o.autotune, false);
  assert.equal(o.sampler, "ode");
  assert.equal(o.backend, "auto");
  assert.equal(o.n, 64);
  assert.equal(o.seed, 0);
  for (const key of Object.keys(o)) assert.ok(key in subcommands.sample.optionKeys, key);
});
