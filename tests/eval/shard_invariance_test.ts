/**
 * An example's NLL and NFE do not depend on which examples share its batch or shard: bit for
 * bit, not within a tolerance. In process (every backend), then through the CLI on WebGPU.
 */

import assert from "node:assert/strict";
import { type BackendCase, eachBackend, gpuTest } from "../_helpers/backends.ts";
import { type Backend, Rng } from "../../compute/mod.ts";
import { pinKernelsForEvaluation } from "../../compute/batch_invariance.ts";
import { evaluateNll, type ExampleResult, type NllOptions } from "../../eval/nll.ts";
import { shardRange } from "../../eval/summary.ts";
import type { DiffusionModel } from "../../sde/model.ts";
import { runMain } from "../_helpers/cli.ts";
import { trainWideTiny, wideTinyCheckpoint } from "./tiny_checkpoint.ts";

const N = 12;
// Loose tolerances keep the solves short; invariance does not depend on them.
const TOL = 1e-3;

function options(c: { backend: Backend; dtype: BackendCase["dtype"] }, batch: number): NllOptions {
  return {
    backend: c.backend,
    dtype: c.dtype,
    tMin: 1e-5,
    rtol: TOL,
    atol: TOL,
    divergence: "hutchinson",
    probe: "rademacher",
    probes: 1,
    dequantization: "none",
    dequantSamples: 1,
    prior: "standard",
    batch,
    rng: Rng.fromSeed(5),
    firstIndex: 0,
  };
}

/** Shard `count` ways and evaluate each shard in batches of `batch`, as `--shard i/n` does. */
async function sharded(
  model: DiffusionModel,
  c: BackendCase,
  values: Float64Array,
  count: number,
  batch: number,
): Promise<ExampleResult[]> {
  const out: ExampleResult[] = [];
  for (let index = 0; index < count; index++) {
    const [start, end] = shardRange(N, { index, count });
    out.push(
      ...await evaluateNll(model, {
        values: values.subarray(start * 2, end * 2),
        n: end - start,
        quantization: null,
      }, { ...options(c, batch), firstIndex: start }),
    );
  }
  return out;
}

eachBackend(
  "eval: per-example NLL and NFE are bit-identical whatever the batch size and shards",
  async (c) => {
    const trainer = await trainWideTiny(c.backend, c.dtype, 20);
    const model = trainer.model(false);
    const values = Float64Array.from({ length: 2 * N }, (_, i) => Math.sin(1.7 * i + 0.3) * 1.5);
    const unpin = pinKernelsForEvaluation(c.backend);
    try {
      const whole = await sharded(model, c, values, 1, N);
      // batches of 5 and 1 in each shard: a single example takes the smallest products
      const parts = await sharded(model, c, values, 2, 5);
      assert.deepEqual(parts.map((e) => e.index), [...Array(N).keys()]);
      const diff = Math.max(...whole.map((e, i) => Math.abs(e.nll - parts[i].nll)));
      assert.equal(diff, 0, `per-example NLL differs by up to ${diff} nats`);
      assert.deepEqual(parts.map((e) => e.nfe), whole.map((e) => e.nfe), "NFE per example");
    } finally {
      unpin();
    }
  },
);

gpuTest(
  "eval-nll CLI on WebGPU: shards with another --batch reproduce the unsharded run exactly; parts record how they were computed",
  async (gpu) => {
    const dir = await Deno.makeTempDir();
    const ckpt = await wideTinyCheckpoint(gpu, dir, 20);
    const args = [
      "--ckpt",
      ckpt,
      "--weights",
      "raw",
      "--data",
      "gmm:fixtures/mix2c.json",
      "--limit",
      String(N),
      "--rtol",
      String(TOL),
      "--atol",
      String(TOL),
      "--backend",
      "webgpu",
      "--quiet",
    ];
    const whole = await runMain(["eval-nll", ...args, "--batch", "12", "--json", "--per-example"]);
    assert.equal(whole.code, 0, whole.stderr);
    const doc = JSON.parse(whole.stdout);
    const paths = [`${dir}/p0.json`, `${dir}/p1.json`];
    for (const [i, out] of paths.entries()) {
      const r = await runMain([
        "eval-nll",
        ...args,
        "--batch",
        "5",
        "--shard",
        `${i}/2`,
        "--out",
        out,
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const parts = await Promise.all(paths.map(async (p) => JSON.parse(await Deno.readTextFile(p))));
    const rows = parts.flatMap((p) => p.examples);
    const diff = Math.max(
      ...doc.per_example.map((e: { nll_nats: number }, i: number) =>
        Math.abs(e.nll_nats - rows[i].nll)
      ),
    );
    assert.equal(diff, 0, `sharded per-example NLL differs by up to ${diff} nats`);
    assert.deepEqual(rows.map((e) => e.nfe), doc.per_example.map((e: { nfe: number }) => e.nfe));
    for (const p of parts) {
      assert.equal(p.compute.backend, "webgpu");
      assert.equal(p.compute.dtype, "f32");
      assert.equal(p.compute.adapter, doc.compute.adapter);
      assert.ok(p.compute.adapter.length > 0);
      assert.deepEqual(p.compute.kernels, doc.compute.kernels, "the same variants in every part");
      assert.ok(p.compute.kernels.matmul.length > 0, "matmul variants are named");
    }
    const merged = await runMain(["eval-nll", "merge", ...paths, "--json"]);
    assert.equal(merged.code, 0, merged.stderr);
    assert.equal(JSON.parse(merged.stdout).nll_nats, doc.nll_nats);
    await Deno.remove(dir, { recursive: true });
  },
);
