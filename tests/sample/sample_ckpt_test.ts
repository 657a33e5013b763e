import assert from "node:assert/strict";
import { runMain } from "../_helpers/cli.ts";
import { parseNpy } from "../../io/npy.ts";

// End to end through a trained network: a 30-step toy run, then sampling from its checkpoint
// (the process and parameterisation come from the checkpoint's config).
Deno.test("sample --ckpt: a briefly trained toy model yields finite samples; analytic-only flags exit 2", async () => {
  const dir = await Deno.makeTempDir();
  const train = await runMain([
    "train",
    "--steps",
    "30",
    "--batch",
    "32",
    "--hidden",
    "16",
    "--layers",
    "2",
    "--n-train",
    "256",
    "--eval-examples",
    "2",
    "--backend",
    "reference",
    "--quiet",
    "--out",
    `${dir}/run`,
  ]);
  assert.equal(train.code, 0, train.stderr);
  const ckpt = `${dir}/run/ckpt.safetensors`;
  const base = ["sample", "--ckpt", ckpt, "--backend", "reference", "--quiet"];
  const [sampled, tracked, priorExact, sde] = await Promise.all([
    runMain([...base, "--sampler", "heun", "--steps", "20", "--n", "16", "--out", `${dir}/x.npy`]),
    runMain([
      ...base,
      "--sampler",
      "euler",
      "--steps",
      "10",
      "--n",
      "4",
      "--track-logp",
      "--out",
      `${dir}/t.json`,
      "--json",
    ]),
    runMain([...base, "--track-logp", "--prior", "exact", "--out", `${dir}/p.json`]),
    runMain([...base, "--sde", "ve", "--out", `${dir}/s.json`]),
  ]);
  assert.equal(sampled.code, 0, sampled.stderr);
  const x = parseNpy(await Deno.readFile(`${dir}/x.npy`), "x.npy");
  assert.deepEqual(x.shape, [16, 2]);
  assert.ok(Array.from(x.data).every(Number.isFinite), "samples must be finite");
  assert.ok(new Set(x.data).size > 16, "samples must differ from one another");

  assert.equal(tracked.code, 0, tracked.stderr);
  const doc = JSON.parse(tracked.stdout);
  assert.match(doc.model, /^ckpt:.*step 30/);
  assert.ok(doc.logp_nats.length === 4 && doc.logp_nats.every(Number.isFinite));

  assert.equal(priorExact.code, 2);
  assert.match(priorExact.stderr, /--prior exact needs an analytic model/);
  assert.equal(sde.code, 2);
  assert.match(sde.stderr, /--sde conflicts with --ckpt/);
});
