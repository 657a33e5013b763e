import assert from "node:assert/strict";
import { eachBackend, gpuTest } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { checkVjp } from "../_helpers/check_grads.ts";
import { tol } from "../_helpers/tolerances.ts";
import {
  type Backend,
  type DType,
  grad,
  mapTree,
  mul,
  referenceBackend,
  Rng,
  sum,
  type Tensor,
  tensor,
  tidy,
  treeLeaves,
  valueAndGrad,
} from "../../compute/mod.ts";
import {
  initUnet,
  type UnetConfig,
  UnetConfigError,
  unetForward,
  unetParamCount,
  type UnetParams,
  validateUnetConfig,
} from "../../nn/unet.ts";

// The smallest network with every part: two levels, a downsample, attention at 4×4, skips
// that change channels, and the middle block.
const tiny: UnetConfig = {
  channels: 1,
  resolution: 8,
  base: 4,
  mults: [1, 2],
  resBlocks: 1,
  attnResolutions: [4],
  dropout: 0.1,
  groups: 2,
  timeFeatures: 8,
};

const flat: UnetConfig = {
  ...tiny,
  channels: 3,
  mults: [1, 1],
  resBlocks: 2,
  attnResolutions: [],
  timeFeatures: 4,
};

const leafCount = (p: UnetParams) => treeLeaves(p).reduce((n, t) => n + t.size, 0);

/** Host copies of a parameter tree moved off init: zero-initialised convs would hide gradients. */
async function randomValues(c: UnetConfig, seed: number): Promise<Float64Array[]> {
  const ref = referenceBackend();
  const noise = Rng.fromSeed(seed + 1);
  const leaves = treeLeaves(initUnet(ref, Rng.fromSeed(seed), c, "f64"));
  return await Promise.all(leaves.map(async (t, i) => {
    const v = await t.read(), z = await noise.derive(i).normal(ref, t.shape, "f64").read();
    return Float64Array.from(v, (a, j) => a + 0.3 * z[j]);
  }));
}

function upload(c: UnetConfig, values: Float64Array[], be: Backend, dtype: DType): UnetParams {
  let i = 0;
  const shape = initUnet(referenceBackend(), Rng.fromSeed(0), c, "f64");
  return mapTree(shape, (t) => tensor(be, values[i++], t.shape, dtype));
}

function inputs(c: UnetConfig, batch: number, be: Backend, dtype: DType, seed = 7) {
  const x = Rng.fromSeed(seed).normal(be, [batch, c.channels, c.resolution, c.resolution], dtype);
  const tv = Array.from({ length: batch }, (_, i) => (i + 0.5) / batch);
  return { x, t: tensor(be, tv, [batch], dtype) };
}

Deno.test("U-Net: output shapes over levels, widths, attention and channels", async () => {
  const be = referenceBackend();
  const configs: UnetConfig[] = [
    tiny,
    flat,
    { ...tiny, channels: 3, resolution: 16, base: 8, mults: [1, 2], attnResolutions: [16, 8] },
    { ...tiny, resolution: 16, mults: [1, 2, 2], resBlocks: 2, attnResolutions: [8] },
    { ...tiny, resolution: 16, mults: [2], attnResolutions: [] },
  ];
  for (const c of configs) {
    const p = initUnet(be, Rng.fromSeed(1), c, "f32");
    const { x, t } = inputs(c, 2, be, "f32");
    const y = unetForward(p, c, x, t);
    assert.deepEqual(y.shape, [2, c.channels, c.resolution, c.resolution], JSON.stringify(c));
    // The output conv starts at zero (init_scale = 0): a fresh network predicts exactly 0.
    assert.ok((await y.read()).every((v) => v === 0), "fresh output is not zero");
    const moved = upload(c, await randomValues(c, 2), be, "f32");
    assert.ok((await unetForward(moved, c, x, t).read()).every(Number.isFinite));
  }
});

gpuTest("U-Net: output shape on WebGPU", async (gpu) => {
  const p = upload(tiny, await randomValues(tiny, 3), gpu, "f32");
  const { x, t } = inputs(tiny, 2, gpu, "f32");
  const y = unetForward(p, tiny, x, t);
  assert.deepEqual(y.shape, [2, 1, 8, 8]);
  assert.ok((await y.read()).every(Number.isFinite));
});

Deno.test("U-Net: parameter counts by hand equal the formula and the tree", () => {
  const be = referenceBackend();
  // A residual block in→out with a 16-wide time embedding: GN(in) + conv3×3 + Dense(16→out)
  // + GN(out) + conv3×3, plus a 1×1 skip when in ≠ out. Attention(C): GN + 4 dense C×C.
  const tinyHand = (8 * 16 + 16) + (16 * 16 + 16) + // time MLP, 8 features → 16 → 16
    (9 * 1 * 4 + 4) + // input conv 1 → 4
    (8 + (9 * 4 * 4 + 4) + (16 * 4 + 4) + 8 + (9 * 4 * 4 + 4)) + // level 0 down res 4 → 4
    (9 * 4 * 4 + 4) + // downsample 4 → 4, stride 2
    (8 + (9 * 4 * 8 + 8) + (16 * 8 + 8) + 16 + (9 * 8 * 8 + 8) + (4 * 8 + 8)) + // res 4 → 8
    (16 + 4 * (8 * 8 + 8)) + // its attention at 4×4
    2 * (16 + (9 * 8 * 8 + 8) + (16 * 8 + 8) + 16 + (9 * 8 * 8 + 8)) + // middle res 8 → 8, twice
    (16 + 4 * (8 * 8 + 8)) + // middle attention
    (32 + (9 * 16 * 8 + 8) + (16 * 8 + 8) + 16 + (9 * 8 * 8 + 8) + (16 * 8 + 8)) + // up 8+8 → 8
    (24 + (9 * 12 * 8 + 8) + (16 * 8 + 8) + 16 + (9 * 8 * 8 + 8) + (12 * 8 + 8)) + // up 8+4 → 8
    (16 + 4 * (8 * 8 + 8)) + // up attention at 4×4
    (9 * 8 * 8 + 8) + // upsample conv 8 → 8
    (24 + (9 * 12 * 4 + 4) + (16 * 4 + 4) + 8 + (9 * 4 * 4 + 4) + (12 * 4 + 4)) + // up 8+4 → 4
    (16 + (9 * 8 * 4 + 4) + (16 * 4 + 4) + 8 + (9 * 4 * 4 + 4) + (8 * 4 + 4)) + // up 4+4 → 4
    8 + (9 * 4 * 1 + 1); // output GN and conv 4 → 1
  const res44 = 8 + (9 * 4 * 4 + 4) + (16 * 4 + 4) + 8 + (9 * 4 * 4 + 4);
  const res84 = 16 + (9 * 8 * 4 + 4) + (16 * 4 + 4) + 8 + (9 * 4 * 4 + 4) + (8 * 4 + 4);
  const flatHand = (4 * 16 + 16) + (16 * 16 + 16) + (9 * 3 * 4 + 4) + // time MLP, input conv
    2 * res44 + (9 * 4 * 4 + 4) + 2 * res44 + // down: level 0, downsample, level 1
    2 * res44 + (8 + 4 * (4 * 4 + 4)) + // middle
    3 * res84 + (9 * 4 * 4 + 4) + 3 * res84 + // up: level 1, upsample, level 0
    8 + (9 * 4 * 3 + 3); // output
  for (const [c, hand] of [[tiny, tinyHand], [flat, flatHand]] as const) {
    assert.equal(unetParamCount(c), hand);
    assert.equal(leafCount(initUnet(be, Rng.fromSeed(0), c, "f32")), hand);
  }
});

gpuTest(
  "U-Net: values and gradients (params, x) on WebGPU f32 match reference f64",
  async (gpu) => {
    const values = await randomValues(tiny, 4);
    const ref = referenceBackend();
    const weights = await Rng.fromSeed(9).normal(ref, [2, 1, 8, 8], "f64").read();
    const run = async (be: Backend, dtype: DType) => {
      const p = upload(tiny, values, be, dtype);
      const { x, t } = inputs(tiny, 2, be, dtype);
      const w = tensor(be, weights, [2, 1, 8, 8], dtype);
      const loss = (q: UnetParams, z: Tensor) => sum(mul(unetForward(q, tiny, z, t), w));
      const { value, grad: g } = valueAndGrad((q: UnetParams) => loss(q, x))(p);
      const gx = grad((z: Tensor) => loss(p, z))(x);
      return [
        await value.read(),
        ...await Promise.all(treeLeaves(g).map((l) => l.read())),
        await gx.read(),
      ];
    };
    const r = await run(ref, "f64"), w = await run(gpu, "f32");
    assertAllClose(w[0], r[0], tol.f32Reduction, "value");
    for (let i = 1; i < r.length - 1; i++) {
      assertAllClose(
        w[i],
        r[i],
        tol.f32Grad,
        `param grad ${i}`,
      );
    }
    assertAllClose(w.at(-1)!, r.at(-1)!, tol.f32Grad, "input gradient");
  },
);

Deno.test("U-Net: input gradient passes the finite-difference dot-product check (f64)", async () => {
  const be = referenceBackend();
  const p = upload(tiny, await randomValues(tiny, 5), be, "f64");
  const { x, t } = inputs(tiny, 2, be, "f64");
  await checkVjp((z) => unetForward(p, tiny, z, t), x, 11, "U-Net input vjp");
});

Deno.test("U-Net: dropout only with an rng, and the same rng repeats", async () => {
  const be = referenceBackend();
  const c = { ...tiny, dropout: 0.5 };
  const p = upload(c, await randomValues(c, 6), be, "f64");
  const { x, t } = inputs(c, 2, be, "f64");
  const run = (dropoutRng?: Rng) => unetForward(p, c, x, t, { dropoutRng }).read();
  const plain = await run();
  assert.deepEqual(await run(), plain, "forward without an rng is not deterministic");
  const a = await run(Rng.fromSeed(21)), b = await run(Rng.fromSeed(21));
  assert.deepEqual(a, b, "the same rng gave different masks");
  assert.notDeepEqual(a, plain, "dropout did not change the output");
  assert.notDeepEqual(await run(Rng.fromSeed(22)), a, "another rng gave the same masks");
});

eachBackend(
  "U-Net: forward+backward inside tidy leaves no live tensors",
  async ({ backend, dtype }) => {
    const p = upload(tiny, await randomValues(tiny, 8), backend, dtype);
    const { x, t } = inputs(tiny, 2, backend, dtype);
    const step = () =>
      tidy(() => {
        valueAndGrad((q: UnetParams) =>
          sum(unetForward(q, tiny, x, t, { dropoutRng: Rng.fromSeed(1) }))
        )(p);
      });
    step(); // caches scalar constants (kept for good)
    const before = backend.liveBytes();
    step();
    assert.equal(backend.liveBytes(), before, "forward+backward left live bytes behind");
    for (const l of [...treeLeaves(p), x, t]) l.dispose();
  },
);

Deno.test("U-Net: validateUnetConfig names the field at fault", () => {
  const cases: [Partial<UnetConfig>, string][] = [
    [{ resolution: 6, mults: [1, 2, 2] }, "UnetConfig.resolution"],
    [{ groups: 3 }, "UnetConfig.groups"],
    [{ attnResolutions: [2] }, "UnetConfig.attnResolutions"],
    [{ timeFeatures: 5 }, "UnetConfig.timeFeatures"],
    [{ dropout: 1 }, "UnetConfig.dropout"],
    [{ mults: [] }, "UnetConfig.mults"],
  ];
  for (const [change, field] of cases) {
    assert.throws(() => validateUnetConfig({ ...tiny, ...change }), (e: unknown) => {
      return e instanceof RangeError && e.message.startsWith(field);
    }, field);
  }
  validateUnetConfig({ ...tiny, resolution: 28, mults: [1, 2, 2], attnResolutions: [7] });
});

Deno.test("U-Net: validateUnetConfig's error carries the field, so a caller can name its own flag", () => {
  const cases: [Partial<UnetConfig>, keyof UnetConfig][] = [
    [{ resolution: 6, mults: [1, 2, 2] }, "resolution"],
    [{ groups: 3 }, "groups"],
    [{ attnResolutions: [2] }, "attnResolutions"],
    [{ dropout: 1 }, "dropout"],
  ];
  for (const [change, field] of cases) {
    assert.throws(
      () => validateUnetConfig({ ...tiny, ...change }),
      (e: unknown) => e instanceof UnetConfigError && e.field === field,
      field,
    );
  }
});
