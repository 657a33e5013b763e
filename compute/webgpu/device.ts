/** Acquiring a WebGPU device, with the adapter's name and whether it is a software fallback. */

export interface GpuDevice {
  device: GPUDevice;
  adapterName: string;
  /** lavapipe/llvmpipe/SwiftShader: real WebGPU executed on the CPU */
  software: boolean;
}

/** Returns null when no adapter exists (no GPU and no software Vulkan driver). */
export async function acquireDevice(): Promise<GpuDevice | null> {
  if (typeof navigator === "undefined" || !navigator.gpu) return null;
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return null;
  const info = adapter.info;
  const adapterName =
    [info.description, info.vendor && `vendor ${info.vendor}`].filter(Boolean).join(", ") ||
    "unknown adapter";
  const software = /llvmpipe|lavapipe|swiftshader|software/i.test(info.description ?? "") ||
    (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBuffersPerShaderStage: Math.min(8, adapter.limits.maxStorageBuffersPerShaderStage),
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
  return { device, adapterName, software };
}
