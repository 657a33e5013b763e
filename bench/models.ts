/**
 * Model-level benchmark cases: the `unet28` U-Net (the 28×28 presets' network, ≈0.7 M
 * parameters) at batch 64 — forward, training step (forward, backward, Adam) and the forward
 * plus one input-VJP a Hutchinson divergence costs — the toy MLP's training step at batch 1024,
 * and the PF-ODE likelihood on the toy preset's network. The peers in `bench/peers/` implement
 * the same cases with the same shapes (bench/README.md).
 */

import {
  type Backend,
  mean,
  mul,
  Rng,
  square,
  sub,
  sum,
  type Tensor,
  tensor,
  tidy,
  valueAndGrad,
} from "../compute/mod.ts";
import { NetworkScoreModel } from "../nn/score_network.ts";
import {
  initNetwork,
  type NetworkConfig,
  networkForward,
  type NetworkParams,
} from "../nn/network.ts";
import { makeSde } from "../sde/processes.ts";
import { pfOdeLogLikelihood } from "../sde/likelihood.ts";
import { ADAM_DEFAULT, adamStep, initAdam } from "../compute/optim/adam.ts";
import { PRESETS, UNET28 } from "../train/presets.ts";
import { plan, type UnetConfig } from "../nn/unet_config.ts";
import type { ResBlockShape } from "../nn/res_block.ts";
import { type CaseResult, measure, perStep, timeCase } from "./measure.ts";
import { STEPS_PER_READ } from "./steps_per_read.ts";

/** The benchmark U-Net: the presets' UNET28 without dropout (timing should not depend on it). */
export const UNET28_BENCH: NetworkConfig = { ...UNET28, dropout: 0 } as NetworkConfig;
/** The toy preset's MLP on 2-D points (the preset fills `dim` from its data). */
const TOY_MLP = { ...PRESETS.toy.model, dim: 2 } as NetworkConfig;

/**
 * Nominal multiply-adds of one unet28 forward at batch 1, counted from its convolutions,
 * attention products and dense layers (elementwise work excluded): the GFLOP/s column's unit.
 */
export const UNET28_FORWARD_FLOPS_PER_EXAMPLE = unet28Flops();

function unet28Flops(): number {
  const c = UNET28_BENCH as UnetConfig;
  const conv = (ci: number, co: number, hw: number, k = 3) => 2 * ci * co * k * k * hw * hw;
  const res = (s: ResBlockShape, hw: number) =>
    conv(s.inC, s.outC, hw) + conv(s.outC, s.outC, hw) +
    (s.inC !== s.outC ? conv(s.inC, s.outC, hw, 1) : 0);
  // q, k, v, proj 1×1 convs and the two L×L×C products
  const attn = (ch: number, hw: number) => 4 * conv(ch, ch, hw, 1) + 2 * 2 * (hw * hw) ** 2 * ch;
  const { levels, outWidth } = plan(c);
  let f = conv(c.channels, c.base, c.resolution) + conv(outWidth, c.channels, c.resolution);
  levels.forEach((l, i) => {
    const r = l.resolution, a = l.attention ? attn(l.width, r) : 0;
    for (const s of l.down) f += res(s, r) + a;
    for (const s of l.up) f += res(s, r);
    f += a; // one attention after the level's up blocks
    if (i < levels.length - 1) f += conv(l.width, l.width, r / 2); // stride-2 resample
    if (i > 0) f += conv(l.width, l.width, 2 * r); // ×2 then conv at the finer resolution
  });
  const mid = levels[levels.length - 1];
  const midShape = { inC: mid.width, outC: mid.width, tembDim: 0 };
  return f + 2 * res(midShape, mid.resolution) + attn(mid.width, mid.resolution);
}

/** Forward + backward ≈ 3 forwards; the input-VJP alone ≈ 2 (no weight gradients). */
const TRAIN_FACTOR = 3, VJP_FACTOR = 2;

export async function runModels(
  be: Backend,
  reps: number,
  record: (r: CaseResult) => void,
  only: (name: string) => boolean,
): Promise<void> {
  const B = 64, rng = Rng.fromSeed(1);
  if (["unet28.forward", "unet28.train_step", "unet28.divergence"].some(only)) {
    const params = initNetwork(be, rng.derive("unet"), UNET28_BENCH);
    const x = rng.normal(be, [B, 1, 28, 28]), y = rng.normal(be, [B, 1, 28, 28]);
    const v = rng.normal(be, [B, 1, 28, 28]);
    const t = tensor(be, rng.derive("t").uniformHost(B), [B]);
    const fwd = B * UNET28_FORWARD_FLOPS_PER_EXAMPLE;
    const slowReps = be.name === "reference" ? 1 : reps;
    if (only("unet28.forward")) {
      record(
        await measure(
          be,
          "unet28.forward",
          fwd,
          slowReps,
          () => networkForward(params, UNET28_BENCH, x, t),
        ),
      );
    }
    if (only("unet28.train_step")) {
      record(
        await trainStepCase(be, "unet28.train_step", TRAIN_FACTOR * fwd, slowReps, params, {
          config: UNET28_BENCH,
          x,
          t,
          y,
        }),
      );
    }
    if (only("unet28.divergence")) {
      const vjp = () => {
        const { grad } = valueAndGrad((xi: Tensor) =>
          sum(mul(networkForward(params, UNET28_BENCH, xi, t), v))
        )(x);
        return grad;
      };
      record(await measure(be, "unet28.divergence", (1 + VJP_FACTOR) * fwd, slowReps, vjp));
    }
  }
  if (only("mlp.train_step.b1024")) {
    const N = 1024;
    const params = initNetwork(be, rng.derive("mlp"), TOY_MLP);
    const x = rng.normal(be, [N, 2]), y = rng.normal(be, [N, 2]);
    const t = tensor(be, rng.derive("t").uniformHost(N), [N]);
    const flops = TRAIN_FACTOR * 2 * N * (34 * 128 + 128 * 128 * 2 + 128 * 2);
    record(
      await trainStepCase(be, "mlp.train_step.b1024", flops, reps, params, {
        config: TOY_MLP,
        x,
        t,
        y,
      }),
    );
  }
  if (only("eval_nll.toy")) record(await evalNllToy(be));
}

/**
 * mean((net(x, t) − y)²), its gradient and one Adam update, STEPS_PER_READ[name] times per run,
 * ending on the last loss's readback; the result is per step.
 */
async function trainStepCase(
  be: Backend,
  name: string,
  flops: number,
  reps: number,
  params: NetworkParams,
  batch: { config: NetworkConfig; x: Tensor; t: Tensor; y: Tensor },
): Promise<CaseResult> {
  const { config, x, t, y } = batch, steps = STEPS_PER_READ[name];
  const adam = initAdam(params);
  const loss = (p: NetworkParams) => mean(square(sub(networkForward(p, config, x, t), y)));
  const step = () => {
    const { value, grad } = valueAndGrad(loss)(params);
    adamStep(params, grad, adam, { ...ADAM_DEFAULT, lr: 1e-3 });
    return value;
  };
  const run = await measure(be, name, flops * steps, reps, () => {
    for (let i = 1; i < steps; i++) tidy(step).dispose();
    return step();
  });
  return perStep(run, steps);
}

/** The likelihood case's problem: the toy MLP at its seed-0 initialisation, 256 points. */
const NLL_TOY = { n: 256, rtol: 1e-5, atol: 1e-5, spread: 1.5 };

function nllToyProblem(be: Backend) {
  const sde = makeSde("vp");
  const params = initNetwork(be, Rng.fromSeed(0), TOY_MLP);
  const model = new NetworkScoreModel(sde, TOY_MLP, "eps", params);
  const points = Rng.fromSeed(2).normal(be, [NLL_TOY.n, 2]);
  return { sde, params, model, points };
}

/**
 * The likelihood case as data for the PyTorch peer (score_sde's path: the same network in
 * PyTorch, scipy's RK45 on the flattened batch): weights as nn/mlp.ts lays them out ([in, out]),
 * the points, the VP SDE and the solver's settings.
 */
export async function nllToyFixture(be: Backend): Promise<Record<string, unknown>> {
  const { sde, params, points } = nllToyProblem(be);
  const layers = await Promise.all(
    (params as { layers: { w: Tensor; b: Tensor }[] }).layers.map(async (l) => ({
      w: Array.from(await l.w.read()),
      in: l.w.shape[0],
      out: l.w.shape[1],
      b: Array.from(await l.b.read()),
    })),
  );
  const x = await tidy(() => mul(points, NLL_TOY.spread)).read();
  return {
    layers,
    points: Array.from(x),
    dim: 2,
    time_features: TOY_MLP.kind === "mlp" ? TOY_MLP.timeFeatures : 0,
    ...sde.params,
    t_min: sde.tMinLikelihood,
    t_max: sde.T,
    rtol: NLL_TOY.rtol,
    atol: NLL_TOY.atol,
  };
}

/**
 * Examples per second of the exact PF-ODE likelihood (Dormand–Prince, rtol = atol = 1e-5, exact
 * divergence) of 256 points under the toy preset's network at its fixed-seed initialisation; the
 * `gflops` field carries examples/s for this case, the note the NFE and the mean log-likelihood
 * (which the PyTorch peer's own solve should reproduce).
 */
async function evalNllToy(be: Backend): Promise<CaseResult> {
  const { n } = NLL_TOY;
  const { sde, model, points } = nllToyProblem(be);
  let nfe = 0, meanLogp = 0;
  const timing = await timeCase(
    async () => {
      const x = tidy(() => mul(points, NLL_TOY.spread));
      const r = await pfOdeLogLikelihood((xi, ti) => model.score(xi, ti), sde, x, {
        tMin: sde.tMinLikelihood,
        tMax: sde.T,
        rtol: NLL_TOY.rtol,
        atol: NLL_TOY.atol,
        divergence: { method: "exact" },
      });
      nfe = r.nfe;
      meanLogp = r.logp.reduce((s, v) => s + v, 0) / n;
      x.dispose();
    },
    1,
    0,
  );
  return {
    name: "eval_nll.toy",
    backend: be.name,
    ...timing,
    gflops: n / (timing.ms_median / 1000),
    note: `examples/s; NFE ${nfe}; mean log p ${meanLogp.toFixed(4)}`,
  };
}
