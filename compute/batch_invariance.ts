/**
 * Reproducible evaluation: kernels whose per-example results do not depend on the batch, and
 * the record of how a result was computed, which eval-nll writes beside its numbers so that
 * parts computed differently are never merged.
 */

import type { Backend, DType } from "./backend.ts";
import { WebGpuBackend } from "./webgpu/backend.ts";
import { CpuBackend } from "./cpu/backend.ts";

/** Everything about the computation that can change the bits of a result. */
export interface ComputeRecord {
  backend: string;
  /**
   * the adapter's description (WebGPU), the BLAS and its kernel family (cpu), or "host" for the
   * reference backend's loops
   */
  adapter: string;
  dtype: DType;
  /** kernel family → the variants chosen for it (WebGPU; empty on the reference backend) */
  kernels: Record<string, string[]>;
}

/**
 * Makes every later kernel choice independent of the batch and starts a fresh record of the
 * choices; returns what restores the previous mode (the backend is shared within a process).
 * On WebGPU: batch-invariant variant choice, no tuning (see `batchInvariant`). The reference
 * backend's loops already sum each output in one order whatever the batch. On cpu: one sgemm
 * per matrix row and per image (see `CpuBackend.batchInvariant`).
 */
export function pinKernelsForEvaluation(backend: Backend): () => void {
  if (backend instanceof CpuBackend) {
    const before = backend.batchInvariant;
    backend.batchInvariant = true;
    return () => (backend.batchInvariant = before);
  }
  if (!(backend instanceof WebGpuBackend)) return () => {};
  const before = backend.batchInvariant;
  backend.batchInvariant = true;
  backend.clearKernelChoices();
  return () => (backend.batchInvariant = before);
}

/** How `backend` computed since `pinKernelsForEvaluation`. */
export function computeRecord(backend: Backend, dtype: DType): ComputeRecord {
  return backend instanceof WebGpuBackend
    ? {
      backend: backend.name,
      adapter: backend.adapterName,
      dtype,
      kernels: backend.kernelChoices(),
    }
    : {
      backend: backend.name,
      adapter: backend instanceof CpuBackend ? `OpenBLAS ${backend.blas.core}` : "host",
      dtype,
      kernels: {},
    };
}
