import assert from "node:assert/strict";
import { gpuOrSkip, gpuTest } from "../_helpers/backends.ts";
import { acquireDevice } from "../../compute/webgpu/device.ts";
import { WebGpuBackend } from "../../compute/webgpu/backend.ts";
import { exp, tensor } from "../../compute/mod.ts";

async function freshBackend(): Promise<WebGpuBackend | null> {
  if (!(await gpuOrSkip())) return null;
  return new WebGpuBackend((await acquireDevice())!);
}

gpuTest(
  "a destroyed device makes the next operations fail with 'device lost', not hang",
  async () => {
    const be = (await freshBackend())!;
    const x = tensor(be, [1, 2, 3]);
    assert.ok(Math.abs((await exp(x).read())[0] - Math.E) < 1e-6);
    be.destroy();
    await assert.rejects(async () => await exp(x).read(), /WebGPU device lost \(destroyed\)/);
    assert.throws(() => exp(x), /WebGPU device lost/);
  },
);

gpuTest(
  "a device destroyed behind the backend's back fails the next read with an error",
  async () => {
    const be = (await freshBackend())!;
    const x = tensor(be, [1, 2, 3]);
    be.device.destroy();
    await assert.rejects(() => exp(x).read(), /WebGPU (device lost|read failed)/);
  },
);

gpuTest("a tensor above the storage binding limit is refused with size and limit", (gpu) => {
  const be = gpu as WebGpuBackend;
  const limit = be.device.limits.maxStorageBufferBindingSize;
  const elements = Math.floor(limit / 4) + 1;
  assert.throws(
    () => be.alloc(elements, "f32"),
    new RegExp(`${elements * 4} bytes exceeds .* limit of ${limit}`),
  );
});

gpuTest("validation errors of a submitted batch are reported at the next read", async () => {
  const be = (await freshBackend())!;
  const x = tensor(be, [1, 2, 3]);
  // Binding one buffer as both input and output breaks WebGPU's aliasing rule.
  be.unary("exp", x.storage, x.storage);
  await assert.rejects(
    () => x.read(),
    /WebGPU error: .*conflicting usages|validation error in submitted batch/,
  );
  be.destroy();
});

gpuTest("adapter name and software flag are reported", (gpu) => {
  const be = gpu as WebGpuBackend;
  assert.ok(be.adapterName.length > 0);
  assert.equal(typeof be.software, "boolean");
});
