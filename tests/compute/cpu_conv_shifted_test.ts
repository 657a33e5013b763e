/**
 * The cpu backend's stride-1 convolutions as one product per tap (compute/cpu/conv_shifted.ts):
 * forward pass, input gradient and weight gradient against direct float64 loops, on kernels
 * square and not, padding 0 to 2, rectangular images, and batches split into uneven groups
 * (a small grid budget) or one image per product (evaluation mode). Every output starts as NaN,
 * so an element the products leave unwritten fails.
 */

import assert from "node:assert/strict";
import type { ConvGeometry } from "../../compute/backend.ts";
import { loadBlas } from "../../compute/cpu/blas.ts";
import { Scratch } from "../../compute/cpu/products.ts";
import {
  conv2dShifted,
  conv2dShiftedInputGrad,
  conv2dShiftedWeightGrad,
  shiftedApplies,
} from "../../compute/cpu/conv_shifted.ts";
import { requireCpuBlas } from "../_helpers/backends.ts";
import { tol } from "../_helpers/tolerances.ts";

function geometry(
  n: number,
  c: number,
  h: number,
  w: number,
  o: number,
  kh: number,
  kw: number,
  padding: number,
): ConvGeometry {
  return {
    n,
    c,
    h,
    w,
    o,
    kh,
    kw,
    stride: 1,
    padding,
    ho: h + 2 * padding - kh + 1,
    wo: w + 2 * padding - kw + 1,
  };
}

function values(n: number, seed: number): Float32Array {
  return Float32Array.from(
    { length: n },
    (_, i) => Math.sin(12.9898 * (i + 1) + 78.233 * seed) * 2,
  );
}

/** The three direct sums, in float64: y (with bias), dx and dw for a given dy. */
function direct(
  g: ConvGeometry,
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array,
  dy: Float32Array,
) {
  const y = new Float64Array(g.n * g.o * g.ho * g.wo).fill(0);
  const dx = new Float64Array(x.length), dw = new Float64Array(w.length);
  for (let n = 0; n < g.n; n++) {
    for (let o = 0; o < g.o; o++) {
      for (let i = 0; i < g.ho; i++) {
        for (let j = 0; j < g.wo; j++) {
          const yi = ((n * g.o + o) * g.ho + i) * g.wo + j;
          y[yi] = bias[o];
          for (let c = 0; c < g.c; c++) {
            for (let a = 0; a < g.kh; a++) {
              for (let b = 0; b < g.kw; b++) {
                const r = i - g.padding + a, q = j - g.padding + b;
                if (r < 0 || r >= g.h || q < 0 || q >= g.w) continue;
                const xi = ((n * g.c + c) * g.h + r) * g.w + q,
                  wi = ((o * g.c + c) * g.kh + a) * g.kw + b;
                y[yi] += x[xi] * w[wi];
                dx[xi] += dy[yi] * w[wi];
                dw[wi] += dy[yi] * x[xi];
              }
            }
          }
        }
      }
    }
  }
  return { y, dx, dw };
}

function assertClose(actual: Float32Array, expected: Float64Array, what: string) {
  const { rtol, atol } = tol.f32ConvPerMaxAbs;
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(
      err <= atol * scale + rtol * Math.abs(expected[i]),
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

const CASES: [string, ConvGeometry][] = [
  ["3×3, pad 1", geometry(5, 3, 6, 7, 4, 3, 3, 1)],
  ["3×2, pad 0", geometry(4, 2, 5, 6, 3, 3, 2, 0)],
  ["5×5, pad 2", geometry(3, 2, 7, 5, 2, 5, 5, 2)],
  ["2×3, pad 1, one channel", geometry(6, 1, 4, 4, 1, 2, 3, 1)],
];

Deno.test("shifted stride-1 convolution: forward, input and weight gradients match direct sums", () => {
  const loaded = loadBlas();
  if ("error" in loaded) {
    if (requireCpuBlas) throw new Error(`REQUIRE_CPU_BLAS=1 but ${loaded.error}`);
    console.warn(`skipped: ${loaded.error}`);
    return;
  }
  const blas = loaded.blas;
  for (const [name, g] of CASES) {
    assert.ok(shiftedApplies(g), name);
    const x = values(g.n * g.c * g.h * g.w, 1), w = values(g.o * g.c * g.kh * g.kw, 2);
    const bias = values(g.o, 3), dy = values(g.n * g.o * g.ho * g.wo, 4);
    const want = direct(g, x, w, bias, dy);
    const imageGrid = (g.c + g.o) * (g.h + 2 * g.padding) * (g.w + 2 * g.padding);
    // default budget (one group), two images per group (the last one short), one per product
    const settings: [string, boolean, number | undefined][] = [
      ["one group", false, undefined],
      ["groups of 2", false, 2 * imageGrid],
      ["evaluation mode", true, undefined],
    ];
    for (const [how, invariant, budget] of settings) {
      const scratch = new Scratch();
      const y = new Float32Array(want.y.length).fill(NaN);
      const dx = new Float32Array(x.length).fill(NaN), dw = new Float32Array(w.length).fill(NaN);
      conv2dShifted(blas, scratch, x, w, g, y, bias, invariant, budget);
      conv2dShiftedInputGrad(blas, scratch, dy, w, g, dx, invariant, budget);
      conv2dShiftedWeightGrad(blas, scratch, x, dy, g, dw, budget);
      assertClose(y, want.y, `${name}, ${how}: y`);
      assertClose(dx, want.dx, `${name}, ${how}: dx`);
      assertClose(dw, want.dw, `${name}, ${how}: dw`);
    }
  }
});

Deno.test("shifted convolution serves stride 1 with more than one tap only", () => {
  assert.equal(shiftedApplies(geometry(1, 1, 4, 4, 1, 1, 1, 0)), false);
  assert.equal(
    shiftedApplies({ ...geometry(1, 1, 5, 5, 1, 3, 3, 1), stride: 2, ho: 3, wo: 3 }),
    false,
  );
  assert.equal(shiftedApplies(geometry(1, 1, 4, 4, 1, 1, 2, 0)), true);
});
