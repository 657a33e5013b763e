/**
 * Launches of the elementwise kernels (wgsl/elementwise.ts): fill, unary and binary ops (four
 * elements per invocation where they divide evenly), where, and weighted sums.
 */

import { type BinaryOp, MAX_RANK, type Storage, type UnaryOp, type View } from "../backend.ts";
import { contiguousStrides, sameShape, sizeOf } from "../shape.ts";
import type { Dispatcher } from "./dispatcher.ts";
import type { Kernel } from "./kernels.ts";
import { binaryCodes, unaryCodes, VEC4_MODE } from "./wgsl/elementwise.ts";

export function fill(d: Dispatcher, out: Storage, value: number): void {
  d.launch1d("fill", [out], out.length, (p, f) => {
    p[0] = out.length;
    f[1] = value;
  });
}

export function unary(d: Dispatcher, op: UnaryOp, x: Storage, out: Storage): void {
  // four elements per invocation when they divide evenly (buffers are 16-byte multiples)
  const wide = out.length % 4 === 0, n = wide ? out.length / 4 : out.length;
  d.launch1d(wide ? "unary4" : "unary", [x, out], n, (p) => {
    p[0] = n;
  }, { OP: unaryCodes[op] });
}

export function binary(
  d: Dispatcher,
  op: BinaryOp,
  a: Storage,
  av: View,
  b: Storage,
  bv: View,
  shape: number[],
  out: Storage,
): void {
  const n = sizeOf(shape);
  const setParams = (p: Uint32Array, count: number) => {
    p[0] = count;
    p[2] = shape.length;
    p.set(shape, 4);
    p.set(av.strides, 10);
    p.set(bv.strides, 16);
  };
  if (n % 4 === 0 && shape.length > 0) {
    const modes = { MA: vec4Mode(shape, av), MB: vec4Mode(shape, bv) };
    d.launch1d("binary4", [a, b, out], n / 4, (p) => setParams(p, n / 4), {
      OP: binaryCodes[op],
      ...modes,
    });
    return;
  }
  d.launch1d("binary", [a, b, out], n, (p) => setParams(p, n), {
    OP: binaryCodes[op],
    DENSE: denseFlags(shape, [av, bv]),
  });
}

export function where(
  d: Dispatcher,
  c: Storage,
  cv: View,
  a: Storage,
  av: View,
  b: Storage,
  bv: View,
  shape: number[],
  out: Storage,
): void {
  const n = sizeOf(shape);
  d.launch1d("where", [c, a, b, out], n, (p) => {
    p[0] = n;
    p[2] = shape.length;
    p.set(shape, 4);
    p.set(cv.strides, 10);
    p.set(av.strides, 16);
    p.set(bv.strides, 22);
  }, { DENSE: denseFlags(shape, [cv, av, bv]) });
}

export function weightedSum(
  d: Dispatcher,
  terms: Storage[],
  weights: readonly number[],
  n: number,
  out: Storage,
): void {
  const quads = Math.ceil(n / 4);
  const kernel = `weightedSum${terms.length}` as Kernel;
  d.launch1d(kernel, [...terms, out], quads, (p, f) => {
    p[0] = quads;
    f.set(weights, 4);
  });
}

/** How the four-wide binary kernel reads a view of `shape` (wgsl/elementwise.ts, BINARY4). */
function vec4Mode(shape: number[], v: View): number {
  if (denseFlags(shape, [v]) === 1) return VEC4_MODE.dense;
  if (v.offset === 0 && v.strides.every((s, i) => s === 0 || shape[i] === 1)) {
    return VEC4_MODE.scalar;
  }
  const last = shape.length - 1;
  if (v.offset === 0 && (v.strides[last] === 0 || shape[last] === 1) && shape[last] % 4 === 0) {
    return VEC4_MODE.splat;
  }
  if (
    v.offset === 0 && v.strides[last] === 1 && shape[last] % 4 === 0 &&
    v.strides.every((s, i) => i === last || s % 4 === 0)
  ) {
    return VEC4_MODE.row;
  }
  return VEC4_MODE.gather;
}

/** Bit k set when view k reads the flat index directly (contiguous, unbroadcast). */
function denseFlags(shape: number[], views: View[]): number {
  if (shape.length > MAX_RANK) throw new Error(`rank ${shape.length} exceeds ${MAX_RANK}`);
  const dense = contiguousStrides(shape);
  return views.reduce(
    (flags, v, k) => (v.offset === 0 && sameShape(v.strides, dense) ? flags | (1 << k) : flags),
    0,
  );
}
