/**
 * Fits a variational dequantiser to a fixed diffusion model by Adam on the negative ELBO
 * (train/dequantizer_objective.ts): each step draws a batch of examples, one u ~ q(· | k) per
 * example and (under the bound objective) one (t, z) pair, all keyed by the step. The model's
 * weights never change; the losses are summed on the device and read back every `logEvery`
 * steps for the progress line.
 */

import {
  add,
  keep,
  sizeOf,
  type Tensor,
  tensor,
  tidy,
  treeLeaves,
  valueAndGrad,
} from "../compute/mod.ts";
import type { Rng } from "../compute/mod.ts";
import type { DiffusionModel } from "../sde/model.ts";
import type { CouplingFlowParams } from "../nn/coupling_flow.ts";
import type { VariationalDequantizer } from "../nn/dequantizer.ts";
import { ADAM_DEFAULT, adamStep, initAdam } from "../compute/optim/adam.ts";
import { clipAndGuard } from "./optim/clip.ts";
import { type DequantizerObjective, negativeElbo } from "./dequantizer_objective.ts";

export interface DequantizerTrainOptions {
  objective: DequantizerObjective;
  tMin: number;
  steps: number;
  batch: number;
  lr: number;
  /** global gradient-norm clip (0: off); the bound's one-draw gradients have heavy tails */
  clip: number;
  rng: Rng;
  /** steps between loss readbacks and progress lines (0: never) */
  logEvery: number;
  log?: (line: string) => void;
}

/**
 * Trains `d.params` in place; returns (step, mean −ELBO in nats per example over the steps since
 * the previous entry) at every progress line.
 */
export async function trainDequantizer(
  model: DiffusionModel,
  data: { values: Float64Array; n: number },
  d: VariationalDequantizer,
  o: DequantizerTrainOptions,
): Promise<{ step: number; loss: number }[]> {
  if (o.objective === "exact" && !model.logp) {
    throw new Error(`the exact objective needs log p; ${model.description} has none`);
  }
  const D = sizeOf(model.shape);
  const backend = d.params.couplings[0].w0.backend, dtype = d.params.couplings[0].w0.dtype;
  const adam = initAdam(d.params);
  const config = { ...ADAM_DEFAULT, lr: o.lr };
  const history: { step: number; loss: number }[] = [];
  const started = performance.now();
  // the losses since the last progress line, summed on the device (no per-step readback)
  let window: Tensor | null = null, inWindow = 0;
  for (let step = 0; step < o.steps; step++) {
    const stream = o.rng.derive("step").derive(step);
    const rows = stream.derive("batch").uniformHost(o.batch).map((v) =>
      Math.min(data.n - 1, Math.floor(v * data.n))
    );
    const values = new Float64Array(o.batch * D);
    rows.forEach((r, i) => values.set(data.values.subarray(r * D, (r + 1) * D), i * D));
    const previous: Tensor | null = window;
    window = tidy(() => {
      const k = tensor(backend, values, [o.batch, ...model.shape], dtype);
      const objective = (p: CouplingFlowParams) =>
        negativeElbo(model, d, p, k, { objective: o.objective, tMin: o.tMin, rng: stream });
      const { value, grad } = valueAndGrad(objective)(d.params);
      const guarded = clipAndGuard(grad, value, o.clip);
      adamStep(d.params, guarded.grads, adam, config, o.lr, guarded.ok);
      return keep(previous ? add(previous, value) : value);
    });
    previous?.dispose();
    inWindow++;
    const last = step === o.steps - 1;
    if (o.logEvery > 0 && ((step + 1) % o.logEvery === 0 || last)) {
      const nats = (await window.item()) / inWindow;
      window.dispose();
      window = null;
      inWindow = 0;
      history.push({ step: step + 1, loss: nats });
      const bpd = nats / (D * Math.LN2);
      const rate = (step + 1) / ((performance.now() - started) / 1000);
      o.log?.(
        `train-dequantizer: ${step + 1}/${o.steps} steps, ${rate.toFixed(2)}/s, −ELBO ${
          nats.toFixed(3)
        } nats (${bpd.toFixed(4)} bits/dim, mean since the last line)`,
      );
    }
  }
  window?.dispose();
  [...treeLeaves(adam.m), ...treeLeaves(adam.v)].forEach((t) => t.dispose());
  return history;
}
