/**
 * The class embedding of the MLP and the U-Net: one-hot [B, classes] @ W without bias, added to
 * the time embedding. Its zero row ("no label") gives exactly the unconditional network of the
 * same seed (every other layer draws from its own substream), a label moves the output, the
 * parameter count includes it, and a checkpoint of a conditional network loads as one.
 */

import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import {
  type Backend,
  type DType,
  mapTree,
  referenceBackend,
  Rng,
  type Tensor,
  tensor,
  treeLeaves,
} from "../../compute/mod.ts";
import {
  initNetwork,
  networkClasses,
  type NetworkConfig,
  networkForward,
  type NetworkParams,
} from "../../nn/network.ts";
import { unetParamCount } from "../../nn/unet.ts";
import { NetworkScoreModel } from "../../nn/score_network.ts";
import { VpSde } from "../../sde/vp.ts";
import { checkpointMeta, saveCheckpoint } from "../../io/checkpoint.ts";
import { sdeToJson } from "../../sde/processes.ts";
import { loadModel } from "../../cli/load_model.ts";

const MLP: NetworkConfig = { kind: "mlp", dim: 2, hidden: 16, layers: 2, timeFeatures: 8 };
const UNET: NetworkConfig = {
  kind: "unet",
  channels: 1,
  resolution: 8,
  base: 4,
  mults: [1, 2],
  resBlocks: 1,
  attnResolutions: [4],
  dropout: 0,
  groups: 2,
  timeFeatures: 8,
};

function inputs(backend: Backend, dtype: DType, shape: number[]) {
  const rng = Rng.fromSeed(7), B = 3;
  return {
    x: rng.derive("x").normal(backend, [B, ...shape], dtype),
    t: tensor(backend, [0.1, 0.5, 0.9], [B], dtype),
    none: tensor(backend, new Float64Array(B * 4), [B, 4], dtype),
    label: tensor(backend, [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1], [B, 4], dtype),
  };
}

for (const base of [MLP, UNET]) {
  eachBackend(
    `class embedding (${base.kind}): the zero row is the unconditional network`,
    async (k) => {
      const conditional = { ...base, classes: 4 } as NetworkConfig;
      assert.equal(networkClasses(conditional), 4);
      assert.equal(networkClasses(base), undefined);
      const init = initNetwork(k.backend, Rng.fromSeed(3), conditional, k.dtype);
      const fresh = initNetwork(k.backend, Rng.fromSeed(3), base, k.dtype);
      assert.equal(treeLeaves(init).length, treeLeaves(fresh).length + 1);
      // random weights everywhere (zero-initialised convs would hide the time embedding), the
      // unconditional network being the same tree without the embedding
      const rng = Rng.fromSeed(4);
      const pc = mapTree(init, (t, path) => rng.derive(path).normal(k.backend, t.shape, k.dtype));
      const { classEmbedding: _, ...pu } = pc as NetworkParams & { classEmbedding?: Tensor };
      const shape = base.kind === "mlp" ? [2] : [1, 8, 8];
      const { x, t, none, label } = inputs(k.backend, k.dtype, shape);
      const read = (y: Tensor) => y.read();
      const plain = await read(networkForward(pu as NetworkParams, base, x, t));
      assert.deepEqual(await read(networkForward(pc, conditional, x, t, { labels: none })), plain);
      assert.deepEqual(await read(networkForward(pc, conditional, x, t)), plain);
      const labelled = await read(networkForward(pc, conditional, x, t, { labels: label }));
      const moved = Array.from(labelled).reduce(
        (m, v, i) => Math.max(m, Math.abs(v - plain[i])),
        0,
      );
      assert.ok(moved > 1e-3, `a label moves the output (by ${moved})`);
    },
  );
}

Deno.test("class embedding: the U-Net's parameter count includes classes × 4·base", () => {
  const c = { ...UNET, classes: 10 } as NetworkConfig & { kind: "unet" };
  const p = initNetwork(referenceBackend(), Rng.fromSeed(0), c, "f64");
  const n = treeLeaves(p).reduce((s, l) => s + l.size, 0);
  assert.equal(n, unetParamCount(c));
  assert.equal(n - unetParamCount({ ...c, classes: 0 }), 10 * 4 * UNET.base);
});

Deno.test("class embedding: a conditional checkpoint loads as a class-conditional model", async () => {
  const be = referenceBackend(), sde = new VpSde();
  const model = { ...MLP, classes: 3 } as NetworkConfig;
  const params = initNetwork(be, Rng.fromSeed(1), model, "f32");
  const dir = await Deno.makeTempDir();
  const config = { model, param: "eps", sde: sdeToJson(sde), lm: null };
  const path = await saveCheckpoint(dir, { params, metadata: await checkpointMeta(config, 0) });
  const loaded = await loadModel({ ckpt: path }, be, "f32");
  assert.equal(loaded.classes, 3);
  assert.ok(loaded instanceof NetworkScoreModel);
  const cond = await loadModel({ ckpt: path, class: 2 }, be, "f32");
  assert.match(cond.description, /class 2$/);
  await Deno.remove(dir, { recursive: true });
});
