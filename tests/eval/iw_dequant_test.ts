/**
 * K-sample importance-weighted dequantisation (MATH.md §2): −log P(k) ≈ −logmeanexp_j ℓ_j =
 * −(logsumexp_j ℓ_j − ln K), ℓ_j = log p(y_j) − log q(y_j | k). With bins so narrow that log p
 * barely changes inside one (a = 1e-6, |∇log p|·a ≈ 1e-6 nats), every draw gives the same
 * ℓ = log p(y_k) + D ln a, so the estimate must not depend on K: without the −ln K it would
 * fall by ln K (1.39 nats at K = 4).
 */

import { eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { Rng } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { evaluateNll } from "../../eval/nll.ts";
import { VpSde } from "../../sde/vp.ts";

const vp = new VpSde(), T_MIN = 1e-5, D = 2;
const Q = { bits: 0, a: 1e-6, b: 0 };
const LEVELS = [[300000, -500000], [-1200000, 800000], [0, 400000]];
const model = new GmmModel(
  { source: "gauss", weights: [1], means: [[0.2, -0.4]], stds: [0.7], shape: [D] },
  vp,
);

eachBackend(
  "importance-weighted dequantisation subtracts ln K: K = 4 draws of one value give it back",
  async (c) => {
    // the bin's centre in model space, and −log P(k) ≈ −log p_{t_min}(centre) − D ln a
    const expected = LEVELS.map((k) =>
      -model.logpHost(k.map((kj) => Q.a * (kj + 0.5) + Q.b), T_MIN) - D * Math.log(Q.a)
    );
    const r = await evaluateNll(model, {
      values: Float64Array.from(LEVELS.flat()),
      n: LEVELS.length,
      quantization: Q,
    }, {
      backend: c.backend,
      dtype: c.dtype,
      tMin: T_MIN,
      rtol: 1e-5,
      atol: 1e-5,
      divergence: "exact",
      probe: "rademacher",
      probes: 1,
      dequantization: "uniform",
      dequantSamples: 4,
      prior: "exact",
      batch: 8,
      rng: Rng.fromSeed(3),
      firstIndex: 0,
    });
    assertAllClose(r.map((e) => e.nll), expected, tol.iwDequantOdeNll, "NLL with 4 draws");
  },
);
