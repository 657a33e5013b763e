/**
 * eval-nll on `points:` data: whole-number values alone are continuous (`--dequant none`
 * allowed, no dequantisation by default); `,discrete` makes them levels that need one.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runMain } from "../_helpers/cli.ts";

const MIX = "gmm:fixtures/mix2d.json";
const quick = ["--backend", "reference", "--quiet", "--divergence", "exact", "--json"];
const dir = await Deno.makeTempDir({ prefix: "points_cli_" });
const pts = join(dir, "whole.csv");
await Deno.writeTextFile(pts, "x,y\n1,0\n0,-1\n-2,1\n");

const evalNll = (data: string, extra: string[] = []) =>
  runMain(["eval-nll", "--model", MIX, "--data", data, ...quick, ...extra]);

Deno.test("whole-number points are continuous: --dequant none by default and on request", async () => {
  const [byDefault, none, uniform] = await Promise.all([
    evalNll(`points:${pts}`),
    evalNll(`points:${pts}`, ["--dequant", "none"]),
    evalNll(`points:${pts}`, ["--dequant", "uniform"]),
  ]);
  for (const r of [byDefault, none]) {
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.dequantization, "none");
    assert.equal(doc.n, 3);
  }
  assert.deepEqual(JSON.parse(byDefault.stdout).nll_nats, JSON.parse(none.stdout).nll_nats);
  assert.equal(uniform.code, 2);
  assert.match(uniform.stderr, /is continuous .*points:FILE,discrete/);
});

Deno.test("points:FILE,discrete are levels: uniform by default, --dequant none refused", async () => {
  const [byDefault, none] = await Promise.all([
    evalNll(`points:${pts},discrete`),
    evalNll(`points:${pts},discrete`, ["--dequant", "none"]),
  ]);
  assert.equal(byDefault.code, 0, byDefault.stderr);
  assert.equal(JSON.parse(byDefault.stdout).dequantization, "uniform");
  assert.equal(none.code, 2);
  assert.match(none.stderr, /declared discrete .*needs a dequantisation/);
});

Deno.test("an empty CSV cell stops eval-nll with exit 3 naming line and column", async () => {
  const gap = join(dir, "gap.csv");
  await Deno.writeTextFile(gap, "1,2\n3,\n");
  const r = await evalNll(`points:${gap}`);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /gap\.csv: line 2 \(data row 2\), column 2 is empty/);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
});
