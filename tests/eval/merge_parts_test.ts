/**
 * `eval-nll merge` takes only parts computed the same way and well-formed: a part that differs
 * in backend, adapter, dtype, kernel variants or settings, or that holds a non-number where a
 * number belongs, is a bad input file (exit 3) named with its field, never a merged NaN.
 */

import assert from "node:assert/strict";
import { runMain } from "../_helpers/cli.ts";

const MIX = "gmm:fixtures/mix2d.json";
const ARGS = ["--model", MIX, "--data", MIX, "--backend", "reference", "--quiet", "--limit", "4"];

// deno-lint-ignore no-explicit-any
type Part = Record<string, any>; // a part as JSON, edited field by field

/** Two shards of one evaluation on the reference backend; their paths and contents. */
async function twoParts(dir: string): Promise<{ paths: string[]; parts: Part[] }> {
  const paths = [`${dir}/p0.json`, `${dir}/p1.json`];
  for (const [i, out] of paths.entries()) {
    const r = await runMain([
      "eval-nll",
      ...ARGS,
      "--divergence",
      "exact",
      "--shard",
      `${i}/2`,
      "--out",
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
  }
  const parts = await Promise.all(paths.map(async (p) => JSON.parse(await Deno.readTextFile(p))));
  return { paths, parts };
}

Deno.test("eval-nll merge: parts record how they were computed and refuse to mix", async () => {
  const dir = await Deno.makeTempDir();
  const { paths, parts } = await twoParts(dir);
  for (const p of parts) {
    assert.deepEqual(p.compute, {
      backend: "reference",
      adapter: "host",
      dtype: "f64",
      kernels: {},
    });
  }
  const ok = await runMain(["eval-nll", "merge", ...paths, "--json"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout).compute, parts[0].compute);

  const altered = `${dir}/altered.json`;
  const cases: [string, (p: Part) => void][] = [
    ["compute.backend", (p) => (p.compute.backend = "webgpu")],
    ["compute.adapter", (p) => (p.compute.adapter = "NVIDIA H100")],
    ["compute.dtype", (p) => (p.compute.dtype = "f32")],
    ["compute.kernels.matmul", (p) => (p.compute.kernels = { matmul: ["texture"] })],
    ["settings.rtol", (p) => (p.settings.rtol = 1e-4)],
  ];
  for (const [field, change] of cases) {
    const p = structuredClone(parts[1]);
    change(p);
    await Deno.writeTextFile(altered, JSON.stringify(p));
    const r = await runMain(["eval-nll", "merge", paths[0], altered]);
    assert.equal(r.code, 3, `${field}: ${r.stderr}`);
    assert.ok(r.stderr.includes(field), `${field} named: ${r.stderr}`);
    for (const path of [paths[0], altered]) assert.ok(r.stderr.includes(path), `${path} named`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("eval-nll merge: a non-number where a number belongs is a bad input file", async () => {
  const dir = await Deno.makeTempDir();
  const { paths, parts } = await twoParts(dir);
  const bad = `${dir}/bad.json`;
  const cases: [string, (p: Part) => void][] = [
    ["examples[1].nll", (p) => (p.examples[1].nll = "1.25")],
    ["examples[0].nll", (p) => (p.examples[0].nll = null)], // how JSON writes NaN and ∞
    ["examples[0].nfe", (p) => (p.examples[0].nfe = "98")],
    ["examples[1].index", (p) => delete p.examples[1].index],
    ["settings.t_min", (p) => (p.settings.t_min = "1e-5")],
    ["compute.kernels", (p) => (p.compute.kernels = null)],
    ["examples", (p) => (p.examples = {})],
    ["format", (p) => (p.format = "something else")],
  ];
  for (const [i, [field, change]] of cases.entries()) {
    const p = structuredClone(parts[1]);
    change(p);
    await Deno.writeTextFile(bad, JSON.stringify(p));
    const json = i === 0 ? ["--json"] : [];
    const r = await runMain(["eval-nll", "merge", paths[0], bad, ...json]);
    assert.equal(r.code, 3, `${field}: ${r.stderr}`);
    assert.ok(r.stderr.includes(`${bad}: ${field} should be`), `${field}: ${r.stderr}`);
    assert.doesNotMatch(r.stdout, /NaN/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  // a part of the earlier format, which recorded nothing of how it was computed
  const old = structuredClone(parts[1]);
  old.format = "likelihood-eval-part/1";
  delete old.compute;
  await Deno.writeTextFile(bad, JSON.stringify(old));
  const r = await runMain(["eval-nll", "merge", paths[0], bad]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /earlier format.*evaluate that shard again/);
  await Deno.remove(dir, { recursive: true });
});
