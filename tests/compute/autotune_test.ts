import assert from "node:assert/strict";
import { gpuTest } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { matmul, Rng, type Tensor } from "../../compute/mod.ts";
import { MATMUL_VARIANTS, type WebGpuBackend } from "../../compute/webgpu/backend.ts";
import { AUTOTUNE_VERSION, Autotuner } from "../../compute/webgpu/autotune.ts";

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
