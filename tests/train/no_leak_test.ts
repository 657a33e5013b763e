import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { mixtureTrainer, spikeConfig } from "../../train/tiny_run.ts";
import type { Trainer } from "../../train/trainer.ts";
import type { NetworkParams } from "../../nn/network.ts";
import { dsmObjective } from "../../train/objectives/dsm.ts";
import { flowObjective } from "../../train/objectives/flow.ts";
import { Rng, tensor, tidy } from "../../compute/mod.ts";

const root = new URL("../..", import.meta.url).pathname;

/**
 * The run's own objective on 1,000 fixed training points with fixed times, noise and probe:
 * evaluated before and after training, the two values are paired, so the difference is far
 * above the batch-to-batch noise (which flow's mostly irreducible loss would otherwise hide).
 */
async function fixedLoss(trainer: Trainer): Promise<number> {
  const n = 1000, { backend, dtype, config, data } = trainer;
  const loss = tidy(() => {
    const x0 = tensor(backend, data.batch(Array.from({ length: n }, (_, i) => i)), [n, 2], dtype);
    const objective = config.objective === "flow" ? flowObjective : dsmObjective;
    const model = trainer.model(false);
    return objective({
      x0,
      stream: Rng.fromSeed(99),
      sde: trainer.sde,
      config,
      net: (p: NetworkParams) => (x, t) => model.predict(x, t, p),
      params: trainer.params,
    })(trainer.params);
  });
  const value = await loss.item();
  loss.dispose();
  return value;
}

// 200 training steps must leave live memory exactly where step 10 left it: every
// intermediate (forward graph, gradients, the second-order term's graph, clipping, Adam and
// EMA updates) is freed by the step's scope.
eachBackend(
  "200 spike training steps keep live bytes flat and lower the loss",
  async ({ backend, dtype }) => {
    for (const highOrder of [0, 0.1]) {
      const config = { ...spikeConfig(root, highOrder), batch: 32 };
      const trainer = await mixtureTrainer(config, backend, dtype);
      const before = await fixedLoss(trainer);
      let liveAt10 = 0;
      for (let step = 1; step <= 200; step++) {
        trainer.trainStep().dispose();
        if (step === 10) liveAt10 = backend.liveBytes();
      }
      assert.equal(
        backend.liveBytes(),
        liveAt10,
        `live bytes grew (${config.objective}, high-order weight ${highOrder})`,
      );
      const after = await fixedLoss(trainer);
      // DSM's loss is mostly reducible (0.99 → 0.29 measured). Flow's is mostly its floor, the
      // exact velocity's ½Z E‖F* − E[F*|x_t]‖² ≈ 12.7 by Monte Carlo, and 200 steps take 3% off
      // (15.58 → 15.11 measured); on paired inputs a run that did not learn stays at 1.
      const fall = highOrder > 0 ? 0.98 : 0.5;
      assert.ok(
        after < fall * before,
        `${config.objective} loss did not fall: ${before} → ${after}`,
      );
      trainer.dispose();
    }
  },
);
