/** Choosing a backend by name: `auto` prefers WebGPU and says which it took. */

import type { Backend } from "./backend.ts";
import { ReferenceBackend } from "./reference/backend.ts";
import { acquireDevice } from "./webgpu/device.ts";
import { WebGpuBackend } from "./webgpu/backend.ts";
import { RuntimeFailure } from "../io/errors.ts";

export type BackendName = "auto" | "webgpu" | "reference";

let reference: ReferenceBackend | null = null;
let webgpu: Promise<WebGpuBackend | null> | null = null;

export function referenceBackend(): ReferenceBackend {
  return reference ??= new ReferenceBackend();
}

/** The shared WebGPU backend, or null when this machine has no adapter. */
export function webgpuBackend(): Promise<WebGpuBackend | null> {
  return webgpu ??= acquireDevice().then((d) => (d ? new WebGpuBackend(d) : null));
}

/** Resolves a `--backend` value; `log` receives one line saying what `auto` chose. */
export async function selectBackend(
  name: BackendName,
  log: (line: string) => void = () => {},
  o: { autotune?: boolean } = {},
): Promise<Backend> {
  if (name === "reference") return referenceBackend();
  const gpu = await webgpuBackend();
  if (gpu) {
    if (o.autotune === false) gpu.autotune = null; // --no-autotune
    if (name === "auto") {
      log(
        `backend: webgpu on ${gpu.adapterName}${
          gpu.software ? " (software adapter, runs on the CPU)" : ""
        }`,
      );
    }
    return gpu;
  }
  if (name === "webgpu") {
    throw new RuntimeFailure(
      "--backend webgpu: no WebGPU adapter found (on a machine without a GPU, install mesa-vulkan-drivers)",
    );
  }
  log("backend: reference (no WebGPU adapter found)");
  return referenceBackend();
}
