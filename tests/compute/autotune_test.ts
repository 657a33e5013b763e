import assert from "node:assert/strict";
import { gpuTest } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import {
  matmul,
  matmulBias,
  referenceBackend,
  Rng,
  type Tensor,
  tensor,
} from "../../compute/mod.ts";
import { MATMUL_VARIANTS, type WebGpuBackend } from "../../compute/webgpu/backend.ts";
import { AUTOTUNE_VERSION, Autotuner } from "../../compute/webgpu/autotune.ts";
import { pinKernelsForEvaluation } from "../../compute/batch_invariance.ts";

const KEY = "matmul:1x96x80x72:rr";

/** Runs `body` with `tuner` installed on the shared backend, restoring what was there. */
async function withTuner<T>(gpu: WebGpuBackend, tuner: Autotuner | null, body: () => Promise<T>) {
  const saved = gpu.autotune;
  gpu.autotune = tuner;
  try {
    return await body();
  } finally {
    gpu.autotune = saved;
  }
}

function operands(gpu: WebGpuBackend): [Tensor, Tensor] {
  const rng = Rng.fromSeed(3);
  return [rng.normal(gpu, [96, 72]), rng.normal(gpu, [72, 80])];
}

gpuTest(
  "autotune: the first readback tunes a new shape, writes the cache, and results agree",
  async (be) => {
    const gpu = be as WebGpuBackend;
    const dir = await Deno.makeTempDir();
    const path = `${dir}/sub/autotune.json`;
    const tuner = new Autotuner("adapter A", path);
    const [a, b] = operands(gpu);
    const untuned = await withTuner(gpu, tuner, async () => {
      const y = matmul(a, b);
      assert.equal(tuner.pending, 1, "the new shape was queued");
      return await y.read(); // the readback runs the trial
    });
    assert.equal(tuner.pending, 0);
    const chosen = tuner.choice(KEY);
    assert(chosen && (MATMUL_VARIANTS as readonly string[]).includes(chosen), `chose ${chosen}`);
    const file = JSON.parse(await Deno.readTextFile(path));
    assert.equal(file.version, AUTOTUNE_VERSION);
    assert.equal(file.adapters["adapter A"][KEY], chosen);
    const tuned = await withTuner(gpu, tuner, () => matmul(a, b).read());
    assertAllClose(tuned, untuned, tol.f32Reduction, "tuned vs default variant");
    await Deno.remove(dir, { recursive: true });
  },
);

gpuTest(
  "autotune: a cached choice is used; another adapter key or version ignores it",
  async (be) => {
    const gpu = be as WebGpuBackend;
    const dir = await Deno.makeTempDir();
    const path = `${dir}/autotune.json`;
    const [a, b] = operands(gpu);
    // A texture variant costs three dispatches (two packs and the product); `tiled` costs one.
    const dispatchesWith = async (choice: string) => {
      const file = { version: AUTOTUNE_VERSION, adapters: { "adapter A": { [KEY]: choice } } };
      await Deno.writeTextFile(path, JSON.stringify(file));
      const tuner = new Autotuner("adapter A", path);
      return await withTuner(gpu, tuner, async () => {
        const before = gpu.stats().dispatches;
        const y = matmul(a, b);
        const n = gpu.stats().dispatches - before;
        assert.equal(tuner.pending, 0, "a cached shape is not tuned again");
        await y.read();
        return n;
      });
    };
    assert.equal(await dispatchesWith("tiled"), 1);
    assert.equal(await dispatchesWith("texture8"), 3);
    assert.equal(new Autotuner("adapter B", path).choice(KEY), undefined, "other adapter");
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        version: AUTOTUNE_VERSION + 1,
        adapters: { "adapter A": { [KEY]: "tiled" } },
      }),
    );
    assert.equal(new Autotuner("adapter A", path).choice(KEY), undefined, "other version");
    await Deno.remove(dir, { recursive: true });
  },
);

gpuTest(
  "autotune: every matmul variant sums along k in one order, so a choice never changes a bit",
  async (be) => {
    const gpu = be as WebGpuBackend;
    const saved = gpu.matmulVariant;
    // depths not a multiple of 4 (the texture path pads k), a batch, a bias, a skinny product
    const shapes = [[[67, 33], [33, 129]], [[3, 45, 70], [3, 70, 38]], [[30, 10], [10, 128]], [
      [1, 300],
      [300, 200],
    ]];
    try {
      await withTuner(gpu, null, async () => {
        for (const [i, [sa, sb]] of shapes.entries()) {
          const rng = Rng.fromSeed(20 + i), n = sb[sb.length - 1];
          const host = async (shape: number[], k: number) =>
            tensor(gpu, await rng.derive(k).normal(referenceBackend(), shape, "f64").read(), shape);
          const [a, b, bias] = [await host(sa, 0), await host(sb, 1), await host([n], 2)];
          const results: (Float32Array | Float64Array)[] = [];
          for (const variant of MATMUL_VARIANTS) {
            gpu.matmulVariant = variant;
            results.push(await matmulBias(a, b, bias).read());
          }
          results.forEach((r, v) =>
            assert.deepEqual(
              r,
              results[0],
              `${MATMUL_VARIANTS[v]} vs ${MATMUL_VARIANTS[0]} ${sa}·${sb}`,
            )
          );
        }
      });
    } finally {
      gpu.matmulVariant = saved;
    }
  },
);

gpuTest(
  "autotune: kernels pinned for evaluation neither queue trials nor follow cached choices",
  async (be) => {
    const gpu = be as WebGpuBackend;
    const dir = await Deno.makeTempDir();
    const path = `${dir}/autotune.json`;
    // a cached choice that is never a default variant
    const file = { version: AUTOTUNE_VERSION, adapters: { "adapter A": { [KEY]: "tiled32" } } };
    await Deno.writeTextFile(path, JSON.stringify(file));
    const tuner = new Autotuner("adapter A", path);
    const [a, b] = operands(gpu);
    await withTuner(gpu, tuner, async () => {
      const unpin = pinKernelsForEvaluation(gpu);
      try {
        await matmul(a, b).read();
        await matmul(b, a, true, true).read(); // a shape the tuner has not met
        assert.equal(tuner.pending, 0, "no trial queued");
        assert.deepEqual(gpu.kernelChoices().matmul, [gpu.matmulVariant], "the default, pinned");
      } finally {
        unpin();
      }
      gpu.clearKernelChoices();
      await matmul(a, b).read();
      assert.deepEqual(gpu.kernelChoices().matmul, ["tiled32"], "unpinned: the cached choice");
    });
    await Deno.remove(dir, { recursive: true });
  },
);
