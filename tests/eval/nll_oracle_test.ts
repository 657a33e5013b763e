import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { Rng, sizeOf } from "../../compute/mod.ts";
import { loadGmmSpec } from "../../data/gmm_spec.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { VpSde } from "../../sde/vp.ts";
import { evaluateNll, type NllOptions } from "../../eval/nll.ts";
import { meanStderr } from "../../io/statistics.ts";

const vp = new VpSde();
const T_MIN = 1e-5;
const fixture = (name: string) => new URL(`../../fixtures/${name}`, import.meta.url).pathname;

function options(o: Partial<NllOptions> & Pick<NllOptions, "backend" | "dtype">): NllOptions {
  return {
    tMin: T_MIN,
    rtol: 1e-5,
    atol: 1e-5,
    divergence: "exact",
    probe: "rademacher",
    probes: 1,
    dequantization: "none",
    dequantSamples: 1,
    prior: "exact",
    batch: 64,
    rng: Rng.fromSeed(1),
    firstIndex: 0,
    ...o,
  };
}

async function points(model: GmmModel, n: number): Promise<Float64Array> {
  const { referenceBackend } = await import("../../compute/mod.ts");
  const x = model.sample(Rng.fromSeed(7), referenceBackend(), n, "f64");
  return Float64Array.from(await x.read());
}

for (const [file, n] of [["mix2d.json", 8], ["mix10d.json", 6]] as const) {
  eachBackend(
    `${file}: ODE log-likelihood with the mixture's own p_T equals the closed form (1e-3 nats)`,
    async (c) => {
      const model = new GmmModel(await loadGmmSpec(fixture(file)), vp);
      const D = sizeOf(model.shape);
      const values = await points(model, n);
      const r = await evaluateNll(model, { values, n, quantization: null }, options(c));
      r.forEach((e, i) => {
        const exact = -model.logpHost([...values.subarray(i * D, (i + 1) * D)], T_MIN);
        assert.ok(Math.abs(e.nll - exact) < 1e-3, `example ${i}: ${e.nll} vs closed form ${exact}`);
        assert.ok(e.nfe > 0);
      });
    },
  );
}

Deno.test("mix10d.json: Hutchinson agrees with the exact value within 4 standard errors", async () => {
  const { referenceBackend } = await import("../../compute/mod.ts");
  const backend = referenceBackend();
  const model = new GmmModel(await loadGmmSpec(fixture("mix10d.json")), vp);
  const n = 4;
  const values = await points(model, n);
  const exact = await evaluateNll(
    model,
    { values, n, quantization: null },
    options({ backend, dtype: "f64" }),
  );
  // 24 independent probes per example: mean and standard error of the single-probe estimates
  const runs = await Promise.all(
    Array.from({ length: 24 }, (_, k) =>
      evaluateNll(model, { values, n, quantization: null }, {
        ...options({ backend, dtype: "f64", divergence: "hutchinson" }),
        rng: Rng.fromSeed(100 + k),
      })),
  );
  for (let i = 0; i < n; i++) {
    const { mean: m, stderr: se } = meanStderr(runs.map((r) => r[i].nll));
    assert.ok(se > 0, "Hutchinson estimates must vary between probes");
    assert.ok(
      Math.abs(m - exact[i].nll) < 4 * se,
      `example ${i}: ${m} ± ${se} vs exact ${exact[i].nll}`,
    );
  }
});

Deno.test("standard prior: the NLL moves by log p_T(x_T) − log π(x_T), of the size docs/MATH.md §6 gives", async () => {
  const { referenceBackend, tensor } = await import("../../compute/mod.ts");
  const { pfOdeLogLikelihood } = await import("../../sde/likelihood.ts");
  const backend = referenceBackend();
  const model = new GmmModel(await loadGmmSpec(fixture("mix10d.json")), vp);
  const values = await points(model, 3);
  const x = tensor(backend, values, [3, 10], "f64");
  const base = {
    tMin: T_MIN,
    tMax: 1,
    rtol: 1e-6,
    atol: 1e-6,
    divergence: { method: "exact" as const },
  };
  const standard = await pfOdeLogLikelihood((y, t) => model.score(y, t), vp, x, base);
  const exactPrior = await pfOdeLogLikelihood((y, t) => model.score(y, t), vp, x, {
    ...base,
    terminalLogp: (xT) => model.logp(xT, tensor(backend, [1, 1, 1], [3], "f64")),
  });

  for (let i = 0; i < 3; i++) {
    const closed = model.logpHost([...values.subarray(i * 10, (i + 1) * 10)], T_MIN);
    assert.ok(
      Math.abs(exactPrior.logp[i] - closed) < 1e-3,
      "exact prior reproduces the closed form",
    );
    const mismatch = exactPrior.priorLogp[i] - standard.priorLogp[i];
    assert.ok(
      Math.abs(standard.logp[i] - exactPrior.logp[i] + mismatch) < 1e-6,
      "the difference is the prior term",
    );
    // sign and size: log p_T(x_T) − log N(x_T; 0, I) computed on the host at the ODE's end point
    const xT = [...standard.endPoint.subarray(i * 10, (i + 1) * 10)];
    const logPi = -5 * Math.log(2 * Math.PI) - xT.reduce((q, v) => q + v * v, 0) / 2;
    const expected = model.logpHost(xT, 1) - logPi;
    assert.ok(Math.abs(mismatch - expected) < 1e-9, `mismatch ${mismatch} vs host ${expected}`);
    assert.ok(Math.abs(mismatch) > 1e-4, "the standard prior is not the mixture's p_T");
  }
});
