/**
 * Choosing a backend by name. `auto` takes a hardware GPU first, then the cpu backend when the
 * BLAS library loads, then WebGPU on a software adapter, then the reference, and says which it
 * took and why.
 */

import type { Backend } from "./backend.ts";
import { ReferenceBackend } from "./reference/backend.ts";
import { CpuBackend } from "./cpu/backend.ts";
import { loadBlas } from "./cpu/blas.ts";
import { acquireDevice } from "./webgpu/device.ts";
import { WebGpuBackend } from "./webgpu/backend.ts";
import { RuntimeFailure, UsageError } from "../io/errors.ts";

export type BackendName = "auto" | "cpu" | "webgpu" | "reference";

let reference: ReferenceBackend | null = null;
let webgpu: Promise<WebGpuBackend | null> | null = null;
let cpu: CpuBackend | { error: string } | null = null;

/** The cpu backend, or why it is not available (no BLAS library, no --allow-ffi). */
export function cpuBackend(): CpuBackend | { error: string } {
  if (cpu) return cpu;
  const loaded = loadBlas();
  return cpu = "blas" in loaded ? new CpuBackend(loaded.blas) : loaded;
}

export function referenceBackend(): ReferenceBackend {
  return reference ??= new ReferenceBackend();
}

/** The shared WebGPU backend, or null when this machine has no adapter. */
export function webgpuBackend(): Promise<WebGpuBackend | null> {
  return webgpu ??= acquireDevice().then((d) => (d ? new WebGpuBackend(d) : null));
}

/** Resolves a `--backend` value; `log` receives one line saying what `auto` chose and why. */
export async function selectBackend(
  name: BackendName,
  log: (line: string) => void = () => {},
  o: { autotune?: boolean } = {},
): Promise<Backend> {
  if (name === "reference") return referenceBackend();
  if (name === "cpu") {
    const c = cpuBackend();
    if ("error" in c) throw new UsageError(`--backend cpu: ${c.error}`);
    return c;
  }
  const gpu = await webgpuBackend();
  if (gpu && o.autotune === false) gpu.autotune = null; // --no-autotune
  if (name === "webgpu") {
    if (gpu) return gpu;
    throw new RuntimeFailure(
      "--backend webgpu: no WebGPU adapter found (on a machine without a GPU, install mesa-vulkan-drivers)",
    );
  }
  if (gpu && !gpu.software) {
    log(`backend: webgpu on ${gpu.adapterName}`);
    return gpu;
  }
  const c = cpuBackend();
  if (!("error" in c)) {
    log(
      `backend: cpu, OpenBLAS ${c.blas.core} kernels, ${c.blas.threads()} threads (${
        gpu ? `preferred to the software adapter ${gpu.adapterName}` : "no WebGPU adapter"
      })`,
    );
    return c;
  }
  if (gpu) {
    log(
      `backend: webgpu on ${gpu.adapterName} (software adapter, runs on the CPU; cpu backend unavailable: ${c.error})`,
    );
    return gpu;
  }
  log(`backend: reference (no WebGPU adapter; cpu backend unavailable: ${c.error})`);
  return referenceBackend();
}
