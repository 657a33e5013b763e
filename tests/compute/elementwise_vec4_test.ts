// The four-wide elementwise kernels read each operand one of five ways (dense, scalar, splat,
// row, gather; wgsl/elementwise.ts): every way, every op, against the float64 reference, plus sizes
// not divisible by 4 that take the one-wide kernels.

import { gpuTest } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import * as C from "../../compute/mod.ts";
import type { Backend, Tensor } from "../../compute/mod.ts";

const binaries: [string, (a: Tensor, b: Tensor) => Tensor][] = [
  ["add", C.add],
  ["sub", C.sub],
  ["mul", C.mul],
  ["div", C.div],
  ["maximum", C.maximum],
  ["minimum", C.minimum],
  ["lt", C.lt],
  ["eq", C.eq],
  ["siluGrad", C.siluGrad],
];

// [a shape, b shape] and which read of b (and of a, by symmetry) each exercises
const layouts: [number[], number[], string][] = [
  [[4, 6, 8], [4, 6, 8], "dense"],
  [[4, 6, 8], [], "scalar"],
  [[4, 6, 8], [4, 6, 1], "splat (last axis broadcast, extent 8)"],
  [[4, 6, 8], [1, 6, 8], "row (first axis broadcast)"],
  [[4, 6, 8], [8], "row (a bias along the last axis)"],
  [[4, 6, 7], [4, 1, 7], "gather (extent 7 not divisible by 4, total 168 is)"],
  [[3, 5], [3, 1], "one-wide kernel (15 elements)"],
];

/** Integer-valued draws so that lt and eq meet ties; positive divisors. */
function values(be: Backend, shape: number[], seed: number, positive: boolean) {
  const u = C.Rng.fromSeed(seed).uniformHost(C.sizeOf(shape));
  const v = Array.from(u, (x) => positive ? 1 + Math.floor(4 * x) : Math.floor(5 * x) - 2);
  return C.tensor(be, v, shape, be.name === "reference" ? "f64" : "f32");
}

gpuTest(
  "four-wide binary kernels: every operand layout and op matches the reference",
  async (gpu) => {
    const ref = C.referenceBackend();
    for (const [as, bs, what] of layouts) {
      for (const [name, f] of binaries) {
        for (const swap of [false, true]) {
          const run = async (be: Backend) => {
            const a = values(be, as, 1, false), b = values(be, bs, 2, name === "div");
            return await (swap && name !== "div" ? f(b, a) : f(a, b)).read();
          };
          assertAllClose(
            await run(gpu),
            await run(ref),
            tol.f32Elementwise,
            `${name} ${what}${swap ? " swapped" : ""}`,
          );
        }
      }
    }
  },
);

gpuTest(
  "four-wide unary kernels match the reference; odd sizes take the one-wide kernel",
  async (gpu) => {
    const ref = C.referenceBackend();
    const unaries: [string, (x: Tensor) => Tensor][] = [
      ["exp", C.exp],
      ["sigmoid", C.sigmoid],
      ["tanh", C.tanh],
      ["neg", C.neg],
      ["abs", C.abs],
      ["silu", C.silu],
    ];
    for (const n of [8, 12, 7]) {
      for (const [name, f] of unaries) {
        const run = async (be: Backend) => {
          const x = C.Rng.fromSeed(n).normal(be, [n], be.name === "reference" ? "f64" : "f32");
          return await f(C.mul(x, 3)).read();
        };
        assertAllClose(await run(gpu), await run(ref), tol.f32Elementwise, `${name} n=${n}`);
      }
    }
  },
);
