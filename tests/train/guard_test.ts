import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { keep, tensor, treeLeaves } from "../../compute/mod.ts";
import { adamStep, initAdam } from "../../compute/optim/adam.ts";
import { clipAndGuard } from "../../train/optim/clip.ts";
import { ADAM_DEFAULT } from "../../compute/optim/adam.ts";

eachBackend(
  "a non-finite loss leaves weights and Adam moments untouched; a finite one updates and clips",
  async (c) => {
    const params = { w: keep(tensor(c.backend, [1, -2, 3], [3], c.dtype)) };
    const adam = initAdam(params);
    const grads = { w: tensor(c.backend, [30, 40, 0], [3], c.dtype) };
    for (const bad of [NaN, Infinity]) {
      const g = clipAndGuard(grads, tensor(c.backend, [bad], [], c.dtype), 1);
      assert.deepEqual([...await g.grads.w.read()], [0, 0, 0], "non-finite: gradients zeroed");
      adamStep(params, g.grads, adam, ADAM_DEFAULT, 0.1, g.ok);
      assert.deepEqual([...await params.w.read()], [1, -2, 3], "weights unchanged");
      assert.deepEqual([...await treeLeaves(adam.m)[0].read()], [0, 0, 0], "moments unchanged");
    }
    const g = clipAndGuard(grads, tensor(c.backend, [1.5], [], c.dtype), 1);
    const clipped = await g.grads.w.read();
    // ‖(30, 40, 0)‖ = 50, clipped to norm 1
    assert.ok(
      Math.abs(clipped[0] - 0.6) < 1e-6 && Math.abs(clipped[1] - 0.8) < 1e-6 && clipped[2] === 0,
    );
    adamStep(params, g.grads, adam, ADAM_DEFAULT, 0.1, g.ok);
    const w = await params.w.read();
    // Adam's step −lr·m̂/√v̂ with the host step counter at 3 (the skipped steps advanced it):
    // m̂ = 0.1g/(1 − 0.9³), v̂ = 0.001g²/(1 − 0.999³)
    const ratio = (0.1 / (1 - 0.9 ** 3)) / Math.sqrt(0.001 / (1 - 0.999 ** 3));
    assert.ok(Math.abs(w[0] - (1 - 0.1 * ratio)) < 1e-5, `updated ${w}`);
    assert.ok(Math.abs(w[1] - (-2 - 0.1 * ratio)) < 1e-5 && w[2] === 3, `updated ${w}`);
  },
);
