/**
 * `eval-nll --labels`: each example of a labelled mixture's draws evaluated under its own
 * class, −log p(x_i | y_i). The result of an example is the one `--class y_i` gives it (the
 * same draws, keyed by its global index), whatever the batch or shard, and the PF-ODE from the
 * class's own p_T reproduces the closed-form class density; the flag's usage errors exit 2.
 */

import assert from "node:assert/strict";
import { referenceBackend, Rng, sizeOf } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { loadGmmSpec } from "../../data/gmm_spec.ts";
import { sampleLabelled } from "../../data/gmm_classes.ts";
import { VpSde } from "../../sde/vp.ts";
import {
  evaluateNll,
  evaluateNllByLabel,
  type ExampleResult,
  type IndexedRows,
  type NllOptions,
} from "../../eval/nll.ts";
import { ROOT, runMain } from "../_helpers/cli.ts";
import { gpuTest } from "../_helpers/backends.ts";
import { pinKernelsForEvaluation } from "../../compute/batch_invariance.ts";
import { tol } from "../_helpers/tolerances.ts";

const LABELLED = "gmm:fixtures/mix2l.json";
const N = 12;
const SEED = 3;
const T_MIN = 1e-5;

/** `main.ts` with a command line written as one string (no argument holds a space). */
const run = (line: string) => runMain(line.trim().split(/\s+/));

async function mixture(): Promise<GmmModel> {
  return new GmmModel(await loadGmmSpec(`${ROOT}/fixtures/mix2l.json`), new VpSde());
}

/** The labelled draws eval-nll makes of `--data gmm:mix2l.json --seed SEED` (stream "data"). */
async function labelledDraws(model: GmmModel) {
  const rng = Rng.fromSeed(SEED).derive("data");
  return await sampleLabelled(model, rng, referenceBackend(), N, "f64");
}

function options(o: Partial<NllOptions>): NllOptions {
  return {
    backend: referenceBackend(),
    dtype: "f64",
    tMin: T_MIN,
    rtol: 1e-5,
    atol: 1e-5,
    divergence: "hutchinson",
    probe: "rademacher",
    probes: 1,
    dequantization: "none",
    dequantSamples: 1,
    prior: "exact",
    batch: N,
    rng: Rng.fromSeed(SEED),
    firstIndex: 0,
    ...o,
  };
}

Deno.test("labels: in process, −log p(x_i | y_i) is the --class y_i result, for any batch and shard", async () => {
  const model = await mixture();
  const { rows, labels } = await labelledDraws(model);
  const D = sizeOf(model.shape);
  const data: IndexedRows = { values: rows, n: N, quantization: null };
  const byLabel = (o: Partial<NllOptions>, d = data, l = labels) =>
    evaluateNllByLabel(evaluateNll, (y) => model.withLabel!(y), l, d, options(o));
  const whole = await byLabel({});
  assert.deepEqual(whole.map((e) => e.index), [...Array(N).keys()]);
  assert.deepEqual(whole.map((e) => e.label), [...labels]);
  assert.ok(new Set(labels).size > 1, "the draws hold several classes");
  // batches of 5 in two shards: each class's rows are not consecutive, so draws are keyed per run
  const sharded: ExampleResult[] = [];
  for (const [start, end] of [[0, 7], [7, N]]) {
    sharded.push(
      ...await byLabel(
        { batch: 5, firstIndex: start },
        { values: rows.subarray(start * D, end * D), n: end - start, quantization: null },
        labels.subarray(start, end),
      ),
    );
  }
  assert.deepEqual(sharded, whole, "bit-identical across batches and shards");
  // --class y: the whole data set under one class, read at the examples of that class
  for (const y of new Set(labels)) {
    const one = await evaluateNll(model.withLabel!(y), data, options({ batch: 4 }));
    labels.forEach((l, i) => {
      if (l === y) assert.deepEqual(whole[i], { ...one[i], label: y }, `example ${i}`);
    });
  }
  // dequantised integer levels: the draws (x and log q) are keyed per example as well
  const q = { bits: 0, a: 0.25, b: 0 };
  const levels = { values: rows.map((v) => Math.round(v / q.a)), n: N, quantization: q };
  for (const dequantization of ["uniform", "truncated-normal"] as const) {
    const o = { dequantization, dequantSamples: 2, tMin: 1e-3 };
    const grouped = await byLabel({ ...o, batch: 5 }, levels);
    for (const y of new Set(labels)) {
      const one = await evaluateNll(model.withLabel!(y), levels, options({ ...o, batch: N }));
      labels.forEach((l, i) => {
        if (l === y) assert.deepEqual(grouped[i], { ...one[i], label: y }, dequantization);
      });
    }
  }
  // the class's own p_T: the closed-form −log p(x | y) up to the solver's error
  const exact = await byLabel({ divergence: "exact" });
  const gaps = exact.map((e, i) =>
    Math.abs(
      e.nll + model.withLabel!(labels[i]).logpHost([...rows.subarray(i * D, (i + 1) * D)], T_MIN),
    )
  );
  console.log(`largest |NLL − exact| ${Math.max(...gaps).toExponential(2)} nats`);
  assert.ok(Math.max(...gaps) <= tol.classNllOdeCli.atol, `gaps ${gaps}`);
});

gpuTest(
  "labels on WebGPU: a label's rows, batched apart, get the --class y_i results exactly",
  async (gpu) => {
    const model = await mixture();
    const { rows, labels } = await labelledDraws(model);
    const q = { bits: 0, a: 0.25, b: 0 };
    const levels = { values: rows.map((v) => Math.round(v / q.a)), n: N, quantization: q };
    const o = {
      backend: gpu,
      dtype: "f32" as const,
      dequantization: "truncated-normal" as const,
      tMin: 1e-3,
      rtol: 1e-3,
      atol: 1e-3,
    };
    const unpin = pinKernelsForEvaluation(gpu);
    try {
      const grouped = await evaluateNllByLabel(
        evaluateNll,
        (y) => model.withLabel!(y),
        labels,
        levels,
        options({ ...o, batch: 5 }),
      );
      for (const y of new Set(labels)) {
        const one = await evaluateNll(model.withLabel!(y), levels, options({ ...o, batch: N }));
        labels.forEach((l, i) => {
          if (l === y) assert.deepEqual(grouped[i], { ...one[i], label: y }, `example ${i}`);
        });
      }
    } finally {
      unpin();
    }
  },
);

Deno.test("labels cli: per-example labels and NLLs equal --class y_i; shards merge to the same", async () => {
  const dir = await Deno.makeTempDir();
  const common =
    `--model ${LABELLED} --prior exact --seed ${SEED} --backend reference --quiet --limit ${N}`;
  const whole = await run(
    `eval-nll ${common} --data ${LABELLED} --labels --batch ${N} --per-example --json`,
  );
  assert.equal(whole.code, 0, whole.stderr);
  const doc = JSON.parse(whole.stdout);
  assert.equal(doc.labels, true);
  const { rows, labels } = await labelledDraws(await mixture());
  assert.deepEqual(doc.per_example.map((e: { label: number }) => e.label), [...labels]);

  // the same points as a file, evaluated under each class in turn
  const D = 2;
  const points = Array.from({ length: N }, (_, i) => [...rows.subarray(i * D, (i + 1) * D)]);
  await Deno.writeTextFile(`${dir}/p.json`, JSON.stringify(points));
  for (const y of new Set(labels)) {
    const r = await run(
      `eval-nll ${common} --data points:${dir}/p.json --class ${y} --batch 5 --per-example --json`,
    );
    assert.equal(r.code, 0, r.stderr);
    const per = JSON.parse(r.stdout).per_example;
    labels.forEach((l, i) => {
      if (l === y) assert.equal(doc.per_example[i].nll_nats, per[i].nll_nats, `example ${i}`);
    });
  }

  const parts = [`${dir}/p0.json`, `${dir}/p1.json`];
  for (const [i, out] of parts.entries()) {
    const r = await run(
      `eval-nll ${common} --data ${LABELLED} --labels --batch 5 --shard ${i}/2 --out ${out}`,
    );
    assert.equal(r.code, 0, r.stderr);
  }
  const merged = await run(`eval-nll merge ${parts.join(" ")} --json`);
  assert.equal(merged.code, 0, merged.stderr);
  const m = JSON.parse(merged.stdout);
  assert.equal(m.nll_nats, doc.nll_nats);
  assert.equal(m.labels, true);
  const partRows = (await Promise.all(
    parts.map(async (p) => JSON.parse(await Deno.readTextFile(p)).examples),
  )).flat();
  assert.deepEqual(
    partRows.map((e: { nll: number; label: number }) => [e.nll, e.label]),
    doc.per_example.map((e: { nll_nats: number; label: number }) => [e.nll_nats, e.label]),
  );

  // a part without --labels is another evaluation
  const plain = await run(
    `eval-nll ${common} --data ${LABELLED} --batch 5 --shard 1/2 --out ${dir}/q1.json`,
  );
  assert.equal(plain.code, 0, plain.stderr);
  const mixed = await run(`eval-nll merge ${parts[0]} ${dir}/q1.json`);
  assert.equal(mixed.code, 3, mixed.stderr);
  assert.match(mixed.stderr, /differ in settings\./);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("labels cli: usage errors exit 2 naming the flag or the data", async () => {
  const base = `eval-nll --prior exact --backend reference --quiet --limit 4 --labels`;
  // deno-fmt-ignore
  const cases: [string, RegExp][] = [
    [`${base} --model ${LABELLED} --data ${LABELLED} --class 1`, /--labels .*conflicts with --class/],
    [`${base} --model ${LABELLED} --data ${LABELLED} --class 1 --cfg 2`, /--labels .*conflicts with --class/],
    [`${base} --model gmm:fixtures/mix2d.json --data gmm:fixtures/mix2d.json`, /--labels needs a class-conditional model; gmm:.*mix2d/],
    [`${base} --model ${LABELLED} --data gmm:fixtures/mix2d.json`, /--data gmm:fixtures\/mix2d.json has no "classes"/],
    [`${base} --model ${LABELLED} --data points:fixtures/none.json`, /--labels needs labelled data: --data points:fixtures\/none.json/],
  ];
  for (const [line, message] of cases) {
    const r = await run(line);
    assert.equal(r.code, 2, `${line}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
