// The WebGPU kernel registry and the elementwise op tables: every primitive names kernels that
// compile on this adapter, every kernel serves a primitive (or is one of the backend's own), and
// an elementwise op code that names no op computes NaN, never another op's result.

import assert from "node:assert/strict";
import { gpuTest } from "../_helpers/backends.ts";
import type { Prim } from "../../compute/primitives.ts";
import type { WebGpuBackend } from "../../compute/webgpu/backend.ts";
import { bufferOf, Dispatcher } from "../../compute/webgpu/dispatcher.ts";
import { KERNELS, PRIMITIVE_KERNELS } from "../../compute/webgpu/kernels.ts";
import {
  BINARY_WGSL,
  binaryApply,
  binaryCodes,
  UNARY_WGSL,
  unaryCodes,
  unarySwitch,
} from "../../compute/webgpu/wgsl/elementwise_ops.ts";

/** Kernels that no primitive computes: the optimiser's and the generator's. */
const BACKEND_OWN = ["random", "adam"];

Deno.test("every kernel computes some primitive, or is the optimiser's or the generator's", () => {
  const named = new Set<string>(Object.values(PRIMITIVE_KERNELS).flat());
  const orphans = Object.keys(KERNELS).filter((k) => !named.has(k) && !BACKEND_OWN.includes(k));
  assert.deepEqual(orphans, []);
});

Deno.test("the primitive and op tables are exhaustive in their types", () => {
  const { sign: _sign, ...unaryWithoutSign } = UNARY_WGSL;
  const { siluGrad: _siluGrad, ...binaryWithoutSiluGrad } = BINARY_WGSL;
  const { conv2dWeightGrad: _cwg, ...kernelsWithoutOne } = PRIMITIVE_KERNELS;
  // @ts-expect-error a unary table without `sign` is not a unary table
  const unary: typeof UNARY_WGSL = unaryWithoutSign;
  // @ts-expect-error a binary table without `siluGrad` is not a binary table
  const binary: typeof BINARY_WGSL = binaryWithoutSiluGrad;
  // @ts-expect-error a primitive without kernels is not a kernel registry
  const registry: Record<Prim, unknown> = kernelsWithoutOne;
  assert.equal(Object.keys(unary).length, Object.keys(UNARY_WGSL).length - 1);
  assert.equal(Object.keys(binary).length, Object.keys(BINARY_WGSL).length - 1);
  assert.equal(Object.keys(registry).length, Object.keys(PRIMITIVE_KERNELS).length - 1);
});

Deno.test("each op's code selects its own case, and the default case computes only NaN", () => {
  const tables: [Record<string, number>, string][] = [
    [unaryCodes, unarySwitch("f32")],
    [binaryCodes, binaryApply("f32")],
  ];
  for (const [codes, code] of tables) {
    const values = Object.values(codes).sort((a, b) => a - b);
    assert.deepEqual(values, [...values.keys()], "codes 0, 1, … in table order");
    for (const v of values) assert.equal(code.split(`case ${v}u:`).length, 2, `one case ${v}`);
    const fallback = code.slice(code.indexOf("default:"));
    assert.match(fallback, /^default: \{ (r =|return) f32\(bitcast<f32>\(0x7fc00000u\)\); \}/);
  }
});

gpuTest("every primitive's kernels compile on this adapter", async (gpu) => {
  const device = (gpu as WebGpuBackend).device, d = new Dispatcher(device);
  for (const [prim, kernels] of Object.entries(PRIMITIVE_KERNELS)) {
    for (const kernel of kernels) {
      device.pushErrorScope("validation");
      d.pipeline(kernel);
      const error = await device.popErrorScope();
      assert.equal(error, null, `${prim}: ${kernel}: ${error?.message}`);
    }
  }
});

/** Runs the unary or binary kernel with an OP constant past the last op on [−2, 0.5, 3, 0]. */
async function unknownOp(gpu: WebGpuBackend, kernel: "unary" | "unary4" | "binary" | "binary4") {
  const d = new Dispatcher(gpu.device), n = 4, x = d.alloc(n, "f32"), out = d.alloc(n, "f32");
  gpu.device.queue.writeBuffer(bufferOf(x), 0, new Float32Array([-2, 0.5, 3, 0]));
  const binary = kernel.startsWith("binary");
  const OP = Object.keys(binary ? BINARY_WGSL : UNARY_WGSL).length;
  const threads = kernel.endsWith("4") ? 1 : n;
  const constants: Record<string, number> = kernel === "binary" ? { OP, DENSE: 3 } : { OP };
  d.launch1d(kernel, binary ? [x, x, out] : [x, out], threads, (p) => {
    p[0] = threads;
    p[2] = 1; // rank 1, shape [4], unit strides: dense operands
    p.set([n, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1], 4);
  }, constants);
  d.flush();
  const values = await d.readBack(out);
  d.free(x);
  d.free(out);
  return [...values];
}

for (const kernel of ["unary", "unary4", "binary", "binary4"] as const) {
  gpuTest(`${kernel}: an op code past the table computes NaN, not another op`, async (gpu) => {
    const got = await unknownOp(gpu as WebGpuBackend, kernel);
    assert.ok(got.every(Number.isNaN), `got ${got}`);
  });
}
