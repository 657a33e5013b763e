/**
 * The PNG grid an image run writes at its end: samples of the EMA model by Euler–Maruyama on
 * the reverse SDE, mapped from model space [−1, 1] back to 8-bit levels.
 */

import { type Backend, type DType, mul, type Rng } from "../compute/mod.ts";
import { writeSamples } from "./output.ts";
import type { DiffusionModel } from "../sde/model.ts";
import { eulerMaruyama, uniformTimeGrid } from "./samplers/euler_maruyama.ts";

export interface GridOptions {
  n: number;
  steps: number;
  rng: Rng;
  backend: Backend;
  dtype: DType;
}

export async function writeSampleGrid(
  model: DiffusionModel,
  path: string,
  o: GridOptions,
): Promise<void> {
  const { sde } = model;
  const xT = mul(
    o.rng.derive("prior").normal(o.backend, [o.n, ...model.shape], o.dtype),
    sde.priorStd,
  );
  const grid = uniformTimeGrid(sde.T, sde.tMinSampling, o.steps);
  const { x } = eulerMaruyama((x, t) => model.score(x, t), sde, xT, grid, o.rng.derive("noise"));
  xT.dispose();
  const values = await x.read();
  x.dispose();
  await writeSamples(path, values, o.n, model.shape);
}
