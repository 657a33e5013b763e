import assert from "node:assert/strict";
import { runMain } from "../_helpers/cli.ts";

const MIX = "gmm:fixtures/mix2d.json";

const run = (args: string[]) => runMain(["eval-nll", ...args]);

const quick = ["--backend", "reference", "--quiet", "--limit", "6", "--divergence", "exact"];

Deno.test("eval-nll --help documents the flags and an example", async () => {
  const r = await run(["--help"]);
  assert.equal(r.code, 0);
  for (
    const flag of [
      "--model",
      "--data",
      "--dequant",
      "--probes",
      "--prior",
      "--bound",
      "--shard",
      "merge",
    ]
  ) {
    assert.match(r.stdout, new RegExp(flag));
  }
});

Deno.test("eval-nll --json prints one document with the documented fields", async () => {
  const r = await run([
    "--model",
    MIX,
    "--data",
    MIX,
    ...quick,
    "--json",
    "--per-example",
    "--prior",
    "exact",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  for (
    const k of [
      "command",
      "n",
      "nll_nats",
      "bpd",
      "bpd_stderr",
      "dequantization",
      "dequant_samples",
      "divergence",
      "probes",
      "prior",
      "t_min",
      "t_max",
      "sde",
      "nfe_mean",
      "per_example",
    ]
  ) assert.ok(k in doc, `missing ${k}`);
  assert.equal(doc.n, 6);
  assert.equal(doc.dequantization, "none");
  assert.equal(doc.per_example.length, 6);
  assert.ok(Math.abs(doc.bpd - doc.nll_nats / (2 * Math.LN2)) < 1e-12);
});

Deno.test("eval-nll shards merged equal the unsharded run", async () => {
  const dir = await Deno.makeTempDir();
  const args = [
    "--model",
    MIX,
    "--data",
    MIX,
    ...quick,
    "--divergence",
    "hutchinson",
    "--probes",
    "2",
  ];
  const whole = JSON.parse((await run([...args, "--json", "--per-example"])).stdout);
  const parts = [];
  for (let i = 0; i < 3; i++) {
    const out = `${dir}/part${i}.json`;
    const r = await run([...args, "--shard", `${i}/3`, "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    parts.push(out);
  }
  const merged = await run(["merge", ...parts, "--json"]);
  const m = JSON.parse(merged.stdout);
  assert.equal(m.n, whole.n);
  assert.ok(Math.abs(m.nll_nats - whole.nll_nats) < 1e-9, `${m.nll_nats} vs ${whole.nll_nats}`);
  assert.ok(Math.abs(m.bpd_stderr - whole.bpd_stderr) < 1e-9);
  // a missing shard is an input error naming what is missing
  const partial = await run(["merge", parts[0], parts[2]]);
  assert.equal(partial.code, 3);
  assert.match(partial.stderr, /missing/);
});

for (
  const [why, args, pattern] of [
    ["unknown flag", ["--modle", MIX], /unknown option '--modle'/],
    ["bad choice", ["--model", MIX, "--data", MIX, "--divergence", "approx"], /--divergence/],
    [
      "out of range",
      ["--model", MIX, "--data", MIX, "--probes", "0"],
      /--probes must be a positive integer/,
    ],
    [
      "conflicting flags",
      ["--model", MIX, "--data", MIX, "--divergence", "exact", "--probes", "3"],
      /conflicts/,
    ],
    ["missing --data", ["--model", MIX], /needs --data/],
    [
      "bad shard",
      ["--model", MIX, "--data", MIX, "--shard", "3/3", "--out", "x.json"],
      /0 ≤ i < n/,
    ],
    ["unknown data kind", ["--model", MIX, "--data", "mnst"], /expected gmm:FILE or points:FILE/],
  ] as const
) {
  Deno.test(`eval-nll usage error (${why}) exits 2 without a stack trace`, async () => {
    const r = await run([...args, "--backend", "reference"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
}

Deno.test("eval-nll bad input files exit 3 naming the problem", async () => {
  const dir = await Deno.makeTempDir();
  const write = async (
    name: string,
    text: string,
  ) => (await Deno.writeTextFile(`${dir}/${name}`, text), `${dir}/${name}`);
  const cases: [string, RegExp][] = [
    [`gmm:${dir}/missing.json`, /missing\.json/],
    [`gmm:${await write("bad.json", "{ not json")}`, /JSON/i],
    [
      `gmm:${await write("neg.json", '{"weights":[1.5,-0.5],"means":[[0],[1]],"stds":[1,1]}')}`,
      /weights/,
    ],
    [
      `gmm:${await write("psd.json", '{"weights":[1],"means":[[0,0]],"covs":[[[1,2],[2,1]]]}')}`,
      /positive definite|covs/,
    ],
  ];
  for (const [spec, pattern] of cases) {
    const r = await run(["--model", spec, "--data", MIX, "--backend", "reference", "--quiet"]);
    assert.equal(r.code, 3, `${spec}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
  const pts = await write("pts.json", "[[1, 2, 3], [4, 5, 6]]");
  const r = await run([
    "--model",
    MIX,
    "--data",
    `points:${pts}`,
    "--backend",
    "reference",
    "--quiet",
  ]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /dimension mismatch.*D = 2.*D = 3/);
});

Deno.test("points declared discrete need a dequantisation; uniform is the default and is labelled", async () => {
  const dir = await Deno.makeTempDir();
  const pts = `${dir}/ints.csv`;
  await Deno.writeTextFile(pts, "x,y\n1,0\n0,-1\n-2,1\n");
  const refused = await run([
    "--model",
    MIX,
    "--data",
    `points:${pts},discrete`,
    "--dequant",
    "none",
    ...quick,
  ]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /integer values.*dequantisation/);
  const ok = await run([
    "--model",
    MIX,
    "--data",
    `points:${pts},discrete`,
    ...quick,
    "--json",
    "--dequant-samples",
    "2",
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  const doc = JSON.parse(ok.stdout);
  assert.equal(doc.dequantization, "uniform");
  assert.equal(doc.dequant_samples, 2);
  assert.equal(doc.n, 3);
});
