import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { GmmEpsTrainer, spikeConfig } from "../../train/gmm_eps_trainer.ts";
import { treeLeaves } from "../../compute/mod.ts";

// 200 training steps must leave live memory exactly where step 10 left it: every
// intermediate (forward graph, gradients, second-order graph) is freed by the step's scope.
eachBackend(
  "200 spike training steps keep live bytes flat and lower the loss",
  async ({ backend, dtype }) => {
    for (const highOrder of [0, 0.1]) {
      const trainer = new GmmEpsTrainer(backend, { ...spikeConfig(highOrder), batch: 32, dtype });
      const losses: number[] = [];
      let liveAt10 = 0;
      for (let step = 1; step <= 200; step++) {
        const loss = trainer.step();
        if (step <= 20 || step > 180) losses.push(await loss.item());
        loss.dispose();
        if (step === 10) liveAt10 = backend.liveBytes();
      }
      assert.equal(
        backend.liveBytes(),
        liveAt10,
        `live bytes grew (high-order weight ${highOrder})`,
      );
      const first = losses.slice(0, 20).reduce((a, b) => a + b) / 20;
      const last = losses.slice(20).reduce((a, b) => a + b) / 20;
      assert.ok(last < 0.8 * first, `loss did not fall: ${first} → ${last}`);
      for (
        const t of [
          ...treeLeaves(trainer.params),
          ...treeLeaves(trainer.adam.m),
          ...treeLeaves(trainer.adam.v),
        ]
      ) {
        t.dispose();
      }
    }
  },
);
