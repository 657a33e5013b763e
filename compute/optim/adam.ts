/**
 * Adam(W) (Kingma & Ba 2015; Loshchilov & Hutter 2019) over a parameter tree, one fused
 * kernel per tensor: the composed form cost about twelve dispatches per tensor.
 */

import {
  constant,
  keep,
  mapTree,
  noGrad,
  type Tensor,
  type Tree,
  treeLeaves,
  zeros,
} from "../mod.ts";

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAM_DEFAULT: AdamConfig = {
  lr: 2e-4,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
};

export interface AdamState<T extends Tree> {
  step: number;
  m: T;
  v: T;
}

export function initAdam<T extends Tree>(params: T): AdamState<T> {
  const moment = () => mapTree(params, (p) => keep(zeros(p.backend, p.shape, p.dtype)));
  return { step: 0, m: moment(), v: moment() };
}

/**
 * Updates `params` and the moments in place (they are persistent tensors). A one-element
 * `gate` of 0 skips the update on the device (a non-finite loss); the step counter, kept on
 * the host, still advances.
 */
export function adamStep<T extends Tree>(
  params: T,
  grads: T,
  state: AdamState<T>,
  c: AdamConfig,
  lr = c.lr,
  gate?: Tensor,
): void {
  state.step++;
  const [ps, gs, ms, vs] = [params, grads, state.m, state.v].map((t) => treeLeaves(t));
  noGrad(() => {
    ps.forEach((p: Tensor, i) => {
      const g = gate ?? constant(p.backend, 1, p.dtype);
      p.shared.host = null; // updated in place below
      p.backend.adam(p.storage, gs[i].storage, ms[i].storage, vs[i].storage, g.storage, {
        lr,
        beta1: c.beta1,
        beta2: c.beta2,
        eps: c.eps,
        weightDecay: c.weightDecay,
        bias1: 1 - c.beta1 ** state.step,
        bias2: 1 - c.beta2 ** state.step,
      });
    });
  });
}
