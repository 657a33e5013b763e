/**
 * The cpu backend's sum and max over axes of a contiguous tensor. Neighbouring axes of the same
 * kind (kept or reduced) merge into one, so a bias gradient over NCHW reduces [N, C, H·W] over
 * its first and last groups. When the innermost group is reduced each output sums contiguous
 * runs; when it is kept, whole rows are added into a float64 row of accumulators. Either way each
 * output accumulates in float64 over the reduced indices in row-major order, as the reference
 * does, so a float32 result matches it exactly.
 */

import type { ReduceOp } from "../backend.ts";
import { contiguousStrides } from "../shape.ts";

/** A row-major walk over `dims` with `strides`, one `next()` per step, wrapping at the end. */
class Walk {
  offset = 0;
  readonly count: number;
  #idx: number[];

  constructor(readonly dims: readonly number[], readonly strides: readonly number[]) {
    this.#idx = dims.map(() => 0);
    this.count = dims.reduce((a, b) => a * b, 1);
  }
  next(): void {
    for (let d = this.dims.length - 1; d >= 0; d--) {
      this.offset += this.strides[d];
      if (++this.#idx[d] < this.dims[d]) return;
      this.offset -= this.strides[d] * this.dims[d];
      this.#idx[d] = 0;
    }
  }
}

/** Float64 accumulators for the kept-innermost case, grown on demand. */
let rowAcc = new Float64Array(1024);

/** Reduces X (shape `shape`) over `axes` into O, which holds the kept axes in order. */
export function reduce(
  op: ReduceOp,
  X: Float32Array,
  shape: readonly number[],
  axes: readonly number[],
  O: Float32Array,
): void {
  const init = op === "sum" ? 0 : -Infinity;
  let kept = 1, reduced = 1;
  for (let d = 0; d < shape.length; d++) {
    if (axes.includes(d)) reduced *= shape[d];
    else kept *= shape[d];
  }
  if (kept === 0) return;
  if (reduced === 0) {
    O.fill(init, 0, kept);
    return;
  }
  // merged groups of neighbouring kept or reduced axes; unit axes dropped
  const sizes: number[] = [], isReduced: boolean[] = [];
  shape.forEach((size, d) => {
    if (size === 1) return;
    const r = axes.includes(d), last = sizes.length - 1;
    if (last >= 0 && isReduced[last] === r) sizes[last] *= size;
    else {
      sizes.push(size);
      isReduced.push(r);
    }
  });
  const strides = contiguousStrides(sizes);
  const pick = (r: boolean, of: number[], drop: number) =>
    of.filter((_, g) => isReduced[g] === r && g !== drop);
  const last = sizes.length - 1;
  if (last >= 0 && isReduced[last]) {
    const keptWalk = new Walk(pick(false, sizes, -1), pick(false, strides, -1));
    const outerWalk = new Walk(pick(true, sizes, last), pick(true, strides, last));
    reduceInner(op, X, keptWalk, outerWalk, sizes[last], O);
  } else {
    const inner = last >= 0 ? sizes[last] : 1;
    const keptWalk = new Walk(pick(false, sizes, last), pick(false, strides, last));
    const reducedWalk = new Walk(pick(true, sizes, -1), pick(true, strides, -1));
    if (rowAcc.length < inner) rowAcc = new Float64Array(inner);
    reduceRows(op, X, keptWalk, reducedWalk, inner, O, rowAcc);
  }
}

/** The innermost group reduced: each output over `outer` runs of `run` contiguous elements. */
function reduceInner(
  op: ReduceOp,
  X: Float32Array,
  kept: Walk,
  outer: Walk,
  run: number,
  O: Float32Array,
): void {
  for (let o = 0; o < kept.count; o++, kept.next()) {
    let acc = op === "sum" ? 0 : -Infinity;
    for (let q = 0; q < outer.count; q++, outer.next()) {
      const start = kept.offset + outer.offset, end = start + run;
      if (op === "sum") { for (let i = start; i < end; i++) acc += X[i]; }
      else for (let i = start; i < end; i++) acc = Math.max(acc, X[i]);
    }
    O[o] = acc;
  }
}

/** The innermost group kept: each output row of `width` sums whole rows of X into `acc`. */
function reduceRows(
  op: ReduceOp,
  X: Float32Array,
  kept: Walk,
  reduced: Walk,
  width: number,
  O: Float32Array,
  acc: Float64Array,
): void {
  for (let p = 0; p < kept.count; p++, kept.next()) {
    acc.fill(op === "sum" ? 0 : -Infinity, 0, width);
    for (let q = 0; q < reduced.count; q++, reduced.next()) {
      const start = kept.offset + reduced.offset;
      if (op === "sum") { for (let i = 0; i < width; i++) acc[i] += X[start + i]; }
      else for (let i = 0; i < width; i++) acc[i] = Math.max(acc[i], X[start + i]);
    }
    for (let i = 0; i < width; i++) O[p * width + i] = acc[i];
  }
}
