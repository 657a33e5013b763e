import { gpuTest } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { matmul, matmulBias, referenceBackend, Rng, tensor } from "../../compute/mod.ts";
import { MATMUL_VARIANTS, WebGpuBackend } from "../../compute/webgpu/backend.ts";

// Shapes chosen to cross the texture path's thresholds: odd sizes (padding of k and n to 4,
// rows not a multiple of the tile), transposed operands (strides), and batches.
const cases: { a: number[]; b: number[]; transA?: boolean; transB?: boolean }[] = [
  { a: [64, 64], b: [64, 64] },
  { a: [67, 33], b: [33, 129] },
  { a: [33, 67], b: [129, 33], transA: true, transB: true },
  { a: [3, 45, 70], b: [3, 70, 38] },
  { a: [2, 70, 45], b: [2, 70, 38], transA: true },
  { a: [256, 130], b: [130, 5] },
  { a: [1, 300], b: [300, 200] },
];

// Every variant the autotuner may pick must agree with the reference: its choice never changes
// results beyond the float32 reduction tolerance.
for (const variant of MATMUL_VARIANTS) {
  gpuTest(
    `matmul (${variant} kernel) matches the float64 reference on odd, transposed and batched shapes`,
    async (gpu) => {
      const backend = gpu as WebGpuBackend;
      const before = { variant: backend.matmulVariant, tuner: backend.autotune };
      backend.matmulVariant = variant;
      backend.autotune = null;
      try {
        for (const [i, c] of cases.entries()) {
          const rng = Rng.fromSeed(i);
          const a = await rng.normal(referenceBackend(), c.a, "f64").read();
          const b = await rng.normal(referenceBackend(), c.b, "f64").read();
          const expected = await matmul(
            tensor(referenceBackend(), a, c.a, "f64"),
            tensor(referenceBackend(), b, c.b, "f64"),
            c.transA,
            c.transB,
          ).read();
          const got = await matmul(tensor(gpu, a, c.a), tensor(gpu, b, c.b), c.transA, c.transB)
            .read();
          assertAllClose(got, expected, tol.f32Reduction, `${variant} ${JSON.stringify(c)}`);
          if (c.transA || c.transB) continue;
          // the bias added in the store: the same product plus one value per column
          const n = c.b[c.b.length - 1];
          const bias = await rng.normal(referenceBackend(), [n], "f64").read();
          const withBias = await matmulBias(
            tensor(gpu, a, c.a),
            tensor(gpu, b, c.b),
            tensor(gpu, bias, [n]),
          )
            .read();
          const shifted = expected.map((v, j) => v + bias[j % n]);
          assertAllClose(
            withBias,
            shifted,
            tol.f32Reduction,
            `${variant} bias ${JSON.stringify(c)}`,
          );
        }
      } finally {
        backend.matmulVariant = before.variant;
        backend.autotune = before.tuner;
      }
    },
  );
}
