import assert from "node:assert/strict";
import { join } from "node:path";
import { referenceBackend, Rng } from "../../compute/mod.ts";
import { VpSde } from "../../sde/vp.ts";
import { chiQuantile } from "../../sde/special.ts";
import { runMain } from "../_helpers/cli.ts";
import { gpuTest } from "../_helpers/backends.ts";

const VP = new VpSde();
const dir = await Deno.makeTempDir({ prefix: "guidance_cli_" });
const GAUSS = join(dir, "gauss2.json"), MIX = join(dir, "mix2.json");
const MU = [0.4, -0.3], C = 0.5;
await Deno.writeTextFile(GAUSS, JSON.stringify({ weights: [1], means: [MU], stds: [C] }));
await Deno.writeTextFile(
  MIX,
  JSON.stringify({ weights: [0.3, 0.7], means: [[-1.5, 0.5], [1, -0.5]], stds: [0.4, 0.6] }),
);
const ref = ["--backend", "reference", "--quiet"];

async function json(args: string[]) {
  const r = await runMain(args);
  assert.equal(r.code, 0, r.stderr);
  return { doc: JSON.parse(r.stdout), stderr: r.stderr };
}

Deno.test("hd-mode and guidance --help document their flags", async () => {
  const [hd, g] = await Promise.all([
    runMain(["hd-mode", "--help"]),
    runMain(["guidance", "--help"]),
  ]);
  assert.equal(hd.code, 0);
  for (
    const f of ["--threshold", "--threshold-lambda", "--out", "--divergence", "--prior", "--steps"]
  ) {
    assert.match(hd.stdout, new RegExp(f));
  }
  assert.equal(g.code, 0);
  for (
    const f of [
      "--q",
      "--noise",
      "--noise-window",
      "--exact-correction",
      "--prior-q",
      "--score-alignment",
      "--score-free",
    ]
  ) assert.match(g.stdout, new RegExp(f));
});

Deno.test("hd-mode --threshold 1 writes the Gaussian's closed-form HD end points and a JSON report", async () => {
  const out = join(dir, "hd.json"), n = 5;
  const { doc } = await json([
    "hd-mode",
    "--model",
    `gmm:${GAUSS}`,
    "--threshold",
    "1",
    "--n",
    `${n}`,
    "--batch",
    "2",
    "--divergence",
    "exact",
    "--prior",
    "exact",
    "--out",
    out,
    "--json",
    ...ref,
  ]);
  for (
    const k of [
      "command",
      "n",
      "sde",
      "t_min",
      "t_max",
      "nfe_mean",
      "logp_nats",
      "threshold",
      "out",
      "seconds",
      "backend",
    ]
  ) {
    assert.ok(k in doc, `missing ${k}`);
  }
  assert.equal(doc.command, "hd-mode");
  assert.equal(doc.t_min, VP.tMinSampling);
  assert.equal(doc.logp_nats.length, n);
  // the latents are the "prior" stream keyed by sample index, as in `sample`
  const xT = await Rng.fromSeed(0).derive("prior").at(0).normal(referenceBackend(), [n, 2], "f64")
    .read();
  const v = (t: number) => VP.alpha(t) ** 2 * C * C + VP.sigma(t) ** 2;
  const aT = VP.alpha(1), am = VP.alpha(doc.t_min), gain = (v(doc.t_min) * aT) / (v(1) * am);
  const samples: number[][] = JSON.parse(await Deno.readTextFile(out)).samples;
  samples.flat().forEach((x, i) => {
    const want = am * MU[i % 2] + gain * (xT[i] - aT * MU[i % 2]);
    assert.ok(
      Math.abs(x - want) < 1e-4 * (1 + Math.abs(want)),
      `sample value ${i}: ${x} vs ${want}`,
    );
  });
});

Deno.test("guidance --q 0.7 in 2-D: clamp counts and a warning, finite log p, predicted shift", async () => {
  const out = join(dir, "dg.npy");
  const { doc, stderr } = await json([
    "guidance",
    "--model",
    `gmm:${GAUSS}`,
    "--q",
    "0.7",
    "--n",
    "4",
    "--out",
    out,
    "--json",
    ...ref,
  ]);
  assert.equal(doc.mode, "density");
  assert.ok(
    Math.abs(
      doc.predicted_shift_nats - 0.5 * 2 * 0.5244005127080407 * (VP.logSnr(1e-3) - VP.logSnr(1)),
    ) < 1e-9,
  );
  assert.equal(doc.clamp.samples_clamped, 4);
  assert.equal(doc.warnings.length, 1);
  assert.match(stderr, /warning: .*unreachable/);
  assert.ok(doc.logp_nats.every(Number.isFinite));
  assert.ok((await Deno.stat(out)).size > 0);
});

Deno.test("guidance --q --noise --exact-correction and --prior-q report their modes", async () => {
  const [sto, prior] = await Promise.all([
    json([
      "guidance",
      "--model",
      `gmm:${MIX}`,
      "--q",
      "0.3",
      "--noise",
      "0.5",
      "--noise-window",
      "0.2,0.8",
      "--noise-steps",
      "40",
      "--exact-correction",
      "--n",
      "3",
      "--out",
      join(dir, "s.npy"),
      "--json",
      ...ref,
    ]),
    json([
      "guidance",
      "--model",
      `gmm:${MIX}`,
      "--prior-q",
      "0.7",
      "--n",
      "3",
      "--out",
      join(dir, "p.json"),
      "--json",
      ...ref,
    ]),
  ]);
  assert.equal(sto.doc.mode, "stochastic");
  assert.deepEqual(sto.doc.noise_window, [0.2, 0.8]);
  assert.equal(sto.doc.exact_correction, true);
  assert.equal(sto.doc.noise_steps, 40);
  assert.equal(sto.doc.logp_nats.length, 3);
  assert.equal(prior.doc.mode, "prior");
  assert.ok(Math.abs(prior.doc.latent_norm - chiQuantile(2, 0.3)) < 1e-12);
});

Deno.test("guidance --score-alignment: transported and score-free agree under --prior exact", async () => {
  const base = [
    "guidance",
    "--model",
    `gmm:${MIX}`,
    "--score-alignment",
    "--n",
    "6",
    "--divergence",
    "exact",
    "--prior",
    "exact",
    "--rtol",
    "1e-7",
    "--atol",
    "1e-7",
    "--json",
    ...ref,
  ];
  const [a, b] = await Promise.all([
    json([...base, "--out", join(dir, "sa1.npy")]),
    json([...base, "--score-free", "--out", join(dir, "sa2.npy")]),
  ]);
  assert.equal(a.doc.score_alignment.length, 6);
  assert.equal(b.doc.score_free, true);
  a.doc.score_alignment.forEach((v: number, i: number) => {
    const w = b.doc.score_alignment[i];
    assert.ok(Math.abs(v - w) < 1e-3 * Math.max(1, Math.abs(v)), `latent ${i}: ${v} vs ${w}`);
  });
  const positive = a.doc.score_alignment.filter((v: number) => v > 0).length / 6;
  assert.equal(a.doc.fraction_positive, positive);
});

Deno.test("bad guidance and hd-mode inputs exit 2 and name the flag", async () => {
  const m = ["--model", `gmm:${MIX}`, "--out", join(dir, "bad.npy"), ...ref];
  const cases: [string[], RegExp][] = [
    [["guidance", "--q", "1.5", ...m], /--q/],
    [["guidance", "--q", "0", ...m], /--q/],
    [["guidance", "--prior-q", "1", ...m], /--prior-q/],
    [["guidance", ...m], /one mode: --q/],
    [["guidance", "--q", "0.7", "--prior-q", "0.6", ...m], /--q and --prior-q conflict/],
    [["guidance", "--q", "0.7", "--score-alignment", ...m], /--q and --score-alignment conflict/],
    [["guidance", "--prior-q", "0.6", "--noise", "0.5", ...m], /--noise needs --q/],
    [["guidance", "--q", "0.6", "--steps", "-3", ...m], /--steps/],
    [["guidance", "--q", "0.6", "--noise", "0.5", "--noise-steps", "-1", ...m], /--noise-steps/],
    [
      ["guidance", "--q", "0.6", "--noise", "0.5", "--noise-window", "0.5,0.2", ...m],
      /--noise-window/,
    ],
    [["hd-mode", "--threshold", "2", ...m], /--threshold 2 must lie in \[t_min, T\]/],
    [["hd-mode", "--threshold", "1e-6", ...m], /--threshold .* must lie in \[t_min, T\]/],
    [["hd-mode", "--threshold-lambda", "30", ...m], /--threshold-lambda 30/],
    [["hd-mode", "--steps", "-3", ...m], /--steps/],
    [["hd-mode", "--model", `gmm:${MIX}`, ...ref], /--out/],
  ];
  const results = await Promise.all(cases.map(([args]) => runMain(args)));
  results.forEach((r, i) => {
    assert.equal(r.code, 2, `${cases[i][0].join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, cases[i][1], cases[i][0].join(" "));
  });
});

gpuTest("hd-mode --backend webgpu runs end to end", async () => {
  const { doc } = await json([
    "hd-mode",
    "--model",
    `gmm:${MIX}`,
    "--threshold-lambda",
    "2",
    "--n",
    "4",
    "--out",
    join(dir, "gpu.npy"),
    "--json",
    "--backend",
    "webgpu",
    "--quiet",
  ]);
  assert.equal(doc.backend, "webgpu");
  assert.ok(doc.logp_nats.every(Number.isFinite));
});
