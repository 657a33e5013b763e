import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import {
  assign,
  avgPool2x2,
  conv2dBias,
  groupNorm,
  keep,
  mean,
  mul,
  noGrad,
  ones,
  Rng,
  silu,
  square,
  sub,
  tidy,
  upsampleNearest2x,
  valueAndGrad,
} from "../../compute/mod.ts";
import type { Tensor } from "../../compute/mod.ts";

// A small conv net (conv → group norm → SiLU → pool → conv → upsample), trained by plain SGD
// for 200 forward+backward steps: live bytes must not move after the first steps.
eachBackend(
  "200 forward+backward steps of a small conv net keep live bytes flat",
  async ({ backend, dtype }) => {
    const rng = Rng.fromSeed(1);
    const init = (shape: number[], scale: number) =>
      keep(noGrad(() => mul(rng.normal(backend, shape, dtype), scale)));
    const params = {
      w1: init([8, 2, 3, 3], 0.3),
      b1: init([8], 0),
      gamma: init([8], 0),
      beta: init([8], 0),
      w2: init([2, 8, 3, 3], 0.1),
      b2: init([2], 0),
    };
    assign(params.gamma, ones(backend, [8], dtype));
    const x = keep(rng.normal(backend, [4, 2, 8, 8], dtype));
    const loss = (p: typeof params) => {
      const h = avgPool2x2(silu(groupNorm(conv2dBias(x, p.w1, p.b1, 1, 1), 4, p.gamma, p.beta)));
      return mean(square(sub(upsampleNearest2x(conv2dBias(h, p.w2, p.b2, 1, 1)), x)));
    };
    let liveAt5 = 0;
    const losses: number[] = [];
    for (let step = 1; step <= 200; step++) {
      const l = tidy(() => {
        const { value, grad } = valueAndGrad(loss)(params);
        noGrad(() => {
          for (const k of Object.keys(params) as (keyof typeof params)[]) {
            assign(params[k], sub(params[k], mul(grad[k], 0.05)));
          }
        });
        return value;
      });
      if (step === 1 || step === 200) losses.push(await l.item());
      l.dispose();
      if (step === 5) liveAt5 = backend.liveBytes();
    }
    assert.equal(backend.liveBytes(), liveAt5, "live bytes changed between step 5 and step 200");
    assert.ok(losses[1] < losses[0], `loss did not fall: ${losses}`);
    for (const t of [...Object.values(params), x] as Tensor[]) t.dispose();
  },
);
