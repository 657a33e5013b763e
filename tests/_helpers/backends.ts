/**
 * Each test is written once and run on every backend (STYLE 5). WebGPU cases are skipped only
 * when no adapter exists, and `REQUIRE_WEBGPU=1` (set by `.ci/run`) turns that into a failure.
 */

import type { Backend, DType } from "../../compute/backend.ts";
import { cpuBackend, referenceBackend, webgpuBackend } from "../../compute/select.ts";

export interface BackendCase {
  name: string;
  backend: Backend;
  dtype: DType;
}

const requireWebGpu = Deno.env.get("REQUIRE_WEBGPU") === "1";
export const requireCpuBlas = Deno.env.get("REQUIRE_CPU_BLAS") === "1";

/** The cpu backend, or null (skip) — or an error when REQUIRE_CPU_BLAS=1. */
export function cpuOrSkip(): Backend | null {
  const c = cpuBackend();
  if (!("error" in c)) return c;
  if (requireCpuBlas) throw new Error(`REQUIRE_CPU_BLAS=1 but ${c.error}`);
  return null;
}

let gpu: Backend | null | undefined;

/** The WebGPU backend, or null (skip) — or an error when REQUIRE_WEBGPU=1. */
export async function gpuOrSkip(): Promise<Backend | null> {
  if (gpu === undefined) gpu = await webgpuBackend();
  if (gpu === null && requireWebGpu) {
    throw new Error(
      "REQUIRE_WEBGPU=1 but no WebGPU adapter was found (install mesa-vulkan-drivers)",
    );
  }
  return gpu;
}

/**
 * Registers `fn` once per backend: reference float64, reference float32, cpu float32 and WebGPU
 * float32.
 */
export function eachBackend(name: string, fn: (c: BackendCase) => Promise<void> | void): void {
  Deno.test({
    name: `${name} [reference f64]`,
    fn: () => fn({ name: "reference-f64", backend: referenceBackend(), dtype: "f64" }),
  });
  Deno.test({
    name: `${name} [reference f32]`,
    fn: () => fn({ name: "reference-f32", backend: referenceBackend(), dtype: "f32" }),
  });
  Deno.test({
    name: `${name} [cpu]`,
    fn: async () => {
      const backend = cpuOrSkip();
      if (!backend) {
        console.warn(`skipped: no BLAS library for "${name}"`);
        return;
      }
      await fn({ name: "cpu", backend, dtype: "f32" });
    },
  });
  Deno.test({
    name: `${name} [webgpu]`,
    sanitizeOps: false,
    sanitizeResources: false,
    ignore: !requireWebGpu && Deno.env.get("SKIP_WEBGPU") === "1",
    fn: async () => {
      const backend = await gpuOrSkip();
      if (!backend) {
        console.warn(`skipped: no WebGPU adapter for "${name}"`);
        return;
      }
      await fn({ name: "webgpu", backend, dtype: "f32" });
    },
  });
}

/** A WebGPU-only test (parity against the reference), with the same skip rules. */
export function gpuTest(name: string, fn: (gpu: Backend) => Promise<void> | void): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const backend = await gpuOrSkip();
      if (!backend) {
        console.warn(`skipped: no WebGPU adapter for "${name}"`);
        return;
      }
      await fn(backend);
    },
  });
}

/** A cpu-only test (parity against the reference), with the same skip rules. */
export function cpuTest(name: string, fn: (cpu: Backend) => Promise<void> | void): void {
  Deno.test(name, async () => {
    const backend = cpuOrSkip();
    if (!backend) {
      console.warn(`skipped: no BLAS library for "${name}"`);
      return;
    }
    await fn(backend);
  });
}
