/**
 * `--class`, `--cfg` and `--label-dropout` on the command line: the usage errors (exit 2, naming
 * the flag), sampling and density guidance toward a class of the labelled mixture, eval-nll's
 * log p(x | K) against the exact class density, and a class-conditional network trained with
 * label dropout and then sampled with guidance.
 */

import assert from "node:assert/strict";
import { ROOT, runMain } from "../_helpers/cli.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { loadGmmSpec } from "../../data/gmm_spec.ts";
import { VpSde } from "../../sde/vp.ts";
import { tol } from "../_helpers/tolerances.ts";

const LABELLED = "gmm:fixtures/mix2l.json";

/** `main.ts` with a command line written as one string (no argument holds a space). */
const run = (line: string) => runMain(line.trim().split(/\s+/));

Deno.test("cfg cli: bad class flags exit 2 naming the flag", async () => {
  const dir = await Deno.makeTempDir();
  const out = `--out ${dir}/x.json --backend reference --quiet`;
  // deno-fmt-ignore
  const cases: [string, RegExp][] = [
    [`sample --model ${LABELLED} --class 3 ${out}`, /--class 3: expected a class in 0…2/],
    [`sample --model gmm:fixtures/mix2d.json --class 0 ${out}`, /--class 0: .*not class-conditional/],
    [`sample --model ${LABELLED} --cfg 1 ${out}`, /--cfg guides toward a class: give it with --class K/],
    [`guidance --model ${LABELLED} --class 0 --cfg 1 --cfg-gamma 2 --q 0.3 ${out}`, /--cfg and --cfg-gamma conflict/],
    [`train --data toy:moons --label-dropout 0.1 --steps 1 --out ${dir}/run --quiet`, /--label-dropout needs labelled data/],
    [`train --label-dropout 1 --out ${dir}/run2`, /--label-dropout must be a number in \[0, 1\)/],
  ];
  for (const [line, message] of cases) {
    const r = await run(line);
    assert.equal(r.code, 2, `${line}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cfg cli: sample and guidance toward a class; eval-nll gives −log p(x | K)", async () => {
  const dir = await Deno.makeTempDir();
  const sample = await run(
    `sample --model ${LABELLED} --class 1 --cfg 2 --sampler heun --steps 20 --n 8 --track-logp --divergence exact --out ${dir}/s.json --json --quiet`,
  );
  assert.equal(sample.code, 0, sample.stderr);
  assert.match(
    JSON.parse(sample.stdout).model,
    /classifier-free guidance to class 1 \(w = 2, γ = 3\)/,
  );
  const guided = await run(
    `guidance --model ${LABELLED} --class 0 --cfg-gamma 1.5 --q 0.3 --n 4 --divergence exact --out ${dir}/g.json --json --quiet`,
  );
  assert.equal(guided.code, 0, guided.stderr);
  assert.equal(JSON.parse(guided.stdout).mode, "density");

  const points = [[1.2, 0.4], [2, 1], [0.3, 0.9]];
  await Deno.writeTextFile(`${dir}/p.json`, JSON.stringify(points));
  const nll = await run(
    `eval-nll --model ${LABELLED} --class 1 --data points:${dir}/p.json --prior exact --divergence exact --per-example --backend reference --json --quiet`,
  );
  assert.equal(nll.code, 0, nll.stderr);
  const doc = JSON.parse(nll.stdout);
  const cls = new GmmModel(await loadGmmSpec(`${ROOT}/fixtures/mix2l.json`), new VpSde())
    .withLabel!(1);
  const gaps = points.map((x, i) =>
    Math.abs(doc.per_example[i].nll_nats + cls.logpHost(x, doc.t_min))
  );
  console.log(`largest |NLL − exact| ${Math.max(...gaps).toExponential(2)} nats`);
  // the PF-ODE from the class's own p_T reproduces its density up to the solver's error
  assert.ok(Math.max(...gaps) <= tol.classNllOdeCli.atol, `gaps ${gaps}`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cfg cli: train --label-dropout, then sample a class with guidance", async () => {
  const dir = await Deno.makeTempDir();
  const train = await run(
    `train --data ${LABELLED} --label-dropout 0.2 --n-train 512 --hidden 16 --layers 1 --steps 5 --batch 32 --eval-examples 2 --backend reference --out ${dir}/run --json --quiet`,
  );
  assert.equal(train.code, 0, train.stderr);
  const summary = JSON.parse(train.stdout);
  assert.equal(summary.config.labelDropout, 0.2);
  assert.equal(summary.config.model.classes, 3);
  const sample = await run(
    `sample --ckpt ${dir}/run/ckpt.safetensors --class 2 --cfg 1 --sampler euler --steps 5 --n 4 --out ${dir}/s.npy --backend reference --json --quiet`,
  );
  assert.equal(sample.code, 0, sample.stderr);
  assert.match(JSON.parse(sample.stdout).model, /classifier-free guidance to class 2/);
  await Deno.remove(dir, { recursive: true });
});
