/** Shape arithmetic shared by the primitives: sizes, strides, broadcasting, axis checks. */

import { MAX_RANK } from "./backend.ts";

export type Shape = readonly number[];

/** Number of elements of a tensor of `shape`: the product of its dimensions (1 for a scalar). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a contiguous tensor. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

export function fmt(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting of several shapes; the error names the op and every shape. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const d = rank - s.length + i;
      if (s[i] === out[d] || s[i] === 1) continue;
      if (out[d] === 1) out[d] = s[i];
      else throw new Error(`${op}: shapes ${shapes.map(fmt).join(" and ")} do not broadcast`);
    }
  }
  checkRank(op, out);
  return out;
}

/** Strides that read a contiguous tensor of `shape` as if broadcast to `target`. */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const own = contiguousStrides(shape);
  const strides = new Array<number>(target.length).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const d = target.length - shape.length + i;
    strides[d] = shape[i] === 1 ? 0 : own[i];
  }
  return strides;
}

export function checkRank(op: string, shape: Shape): void {
  if (shape.length > MAX_RANK) {
    throw new Error(`${op}: rank ${shape.length} of ${fmt(shape)} exceeds the maximum ${MAX_RANK}`);
  }
}

/** Normalises possibly negative axes, rejecting out-of-range or repeated ones. */
export function normalizeAxes(op: string, axes: readonly number[], shape: Shape): number[] {
  const rank = shape.length;
  const out = axes.map((a) => (a < 0 ? a + rank : a));
  for (let i = 0; i < out.length; i++) {
    if (!Number.isInteger(out[i]) || out[i] < 0 || out[i] >= rank) {
      throw new Error(
        `${op}: axis ${axes[i]} is out of range for rank ${rank} (shape ${fmt(shape)})`,
      );
    }
    if (out.indexOf(out[i]) !== i) {
      throw new Error(`${op}: axis ${axes[i]} is repeated (shape ${fmt(shape)})`);
    }
  }
  return out;
}
