import assert from "node:assert/strict";
import { runMain } from "../_helpers/cli.ts";

const MIX = "gmm:fixtures/mix2d.json";
const run = (args: string[]) => runMain(["sample", ...args]);
const quick = ["--backend", "reference", "--quiet"];
const dir = await Deno.makeTempDir();

// Each case runs the program and must stop before sampling with exit 2 and a message that
// names the offending flag (or both flags of a conflict).
Deno.test("sample: bad inputs exit 2 naming the flag", async () => {
  const base = ["--model", MIX, "--n", "2", ...quick];
  const cases: [string[], RegExp][] = [
    [
      ["--sampler", "em", "--steps", "0", "--out", `${dir}/e.json`],
      /--steps must be a positive integer/,
    ],
    [["--sampler", "heun", "--steps", "-3", "--out", `${dir}/e.json`], /--steps/],
    [["--sampler", "ddpm", "--out", `${dir}/e.json`], /--sampler/],
    [
      ["--sampler", "heun", "--rtol", "1e-4", "--out", `${dir}/e.json`],
      /--rtol is for --sampler ode/,
    ],
    [
      ["--sampler", "ode", "--steps", "10", "--out", `${dir}/e.json`],
      /--steps is for the fixed-step samplers/,
    ],
    [["--sampler", "em", "--snr", "0.2", "--out", `${dir}/e.json`], /--snr is for --sampler pc/],
    [
      ["--sampler", "pc", "--track-logp", "--out", `${dir}/e.json`],
      /--track-logp is not available with --sampler pc/,
    ],
    [["--prior", "exact", "--out", `${dir}/e.json`], /--prior needs --track-logp/],
    [
      ["--track-logp", "--detail-report", "--out", `${dir}/e.json`],
      /--detail-report measures PNG sizes of images/,
    ],
    [
      ["--track-logp", "--divergence", "exact", "--probe", "gaussian", "--out", `${dir}/e.json`],
      /--probe .* conflicts with --divergence exact/,
    ],
    [["--out", `${dir}/e.txt`], /--out .*e\.txt: the extension picks the format/],
    [[], /sample needs --out FILE/],
    [["--t-min", "1", "--out", `${dir}/e.json`], /--t-min must be below T/],
  ];
  const results = await Promise.all(cases.map(([args]) => run([...base, ...args])));
  results.forEach((r, i) => {
    assert.equal(r.code, 2, `${cases[i][0].join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, cases[i][1], cases[i][0].join(" "));
  });
});
