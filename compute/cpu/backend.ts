/**
 * The cpu backend: float32 on the host. Every product goes through the system BLAS (`blas.ts`,
 * `products.ts`); every other op is a typed-array loop of its own file here, sharing none with
 * the reference. This class owns the storages (pooled, `storage.ts`) and delegates.
 */

import type {
  AdamParams,
  Backend,
  BinaryOp,
  ConvGeometry,
  DType,
  GroupNormGeometry,
  RandomParams,
  ReduceOp,
  Storage,
  UnaryOp,
  View,
} from "../backend.ts";
import type { Blas } from "./blas.ts";
import * as products from "./products.ts";
import { BufferPool, type CpuStorage, f32 } from "./storage.ts";
import { unary, weightedSum } from "./elementwise.ts";
import { binary } from "./binary.ts";
import { where } from "./where.ts";
import { copy } from "./copy.ts";
import { reduce } from "./reductions.ts";
import { groupNorm, groupNormInputGrad, normalizeRows, rowRstd } from "./normalization.ts";
import { cholesky, triangularSolve } from "./linalg.ts";
import { random } from "./random.ts";
import { adam } from "./adam.ts";

export class CpuBackend implements Backend {
  readonly name = "cpu";
  #pool = new BufferPool();
  #scratch = new products.Scratch();
  /**
   * Evaluation mode (`pinKernelsForEvaluation`): every product is computed so that one example's
   * result does not depend on how many share its call (one sgemm per matrix row or image).
   */
  batchInvariant = false;
  #live = 0;
  #dispatches = 0;

  constructor(readonly blas: Blas) {}

  supports(dtype: DType): boolean {
    return dtype === "f32";
  }
  alloc(length: number, dtype: DType): Storage {
    if (dtype !== "f32") throw new Error(`cpu backend stores float32 only, not ${dtype}`);
    this.#live += length * 4;
    return this.#pool.take(length);
  }
  write(dst: Storage, data: Float32Array | Float64Array): void {
    f32(dst).set(data);
  }
  read(src: Storage): Promise<Float32Array> {
    return Promise.resolve(f32(src).slice());
  }
  free(s: Storage): void {
    this.#pool.release(s as CpuStorage);
    this.#live -= s.length * 4;
  }
  liveBytes(): number {
    return this.#live;
  }
  /** Idle pooled bytes, ready for reuse (not counted by `liveBytes`). */
  pooledBytes(): number {
    return this.#pool.pooledElements() * 4;
  }
  flush(): void {}
  stats() {
    return { dispatches: this.#dispatches, pipelines: 0, submits: 0 };
  }

  fill(out: Storage, value: number): void {
    this.#dispatches++;
    f32(out).fill(value);
  }
  unary(op: UnaryOp, x: Storage, out: Storage): void {
    this.#dispatches++;
    unary(op, f32(x), f32(out));
  }
  binary(
    op: BinaryOp,
    a: Storage,
    av: View,
    b: Storage,
    bv: View,
    shape: number[],
    out: Storage,
  ): void {
    this.#dispatches++;
    binary(op, f32(a), av, f32(b), bv, shape, f32(out));
  }
  where(
    c: Storage,
    cv: View,
    a: Storage,
    av: View,
    b: Storage,
    bv: View,
    shape: number[],
    out: Storage,
  ): void {
    this.#dispatches++;
    where(f32(c), cv, f32(a), av, f32(b), bv, shape, f32(out));
  }
  weightedSum(terms: Storage[], weights: readonly number[], n: number, out: Storage): void {
    this.#dispatches++;
    weightedSum(terms.map(f32), weights, n, f32(out));
  }
  reduce(op: ReduceOp, x: Storage, shape: number[], axes: number[], out: Storage): void {
    this.#dispatches++;
    reduce(op, f32(x), shape, axes, f32(out));
  }
  copy(src: Storage, sv: View, dst: Storage, dv: View, shape: number[]): void {
    this.#dispatches++;
    copy(f32(src), sv, f32(dst), dv, shape);
  }
  matmul(
    a: Storage,
    as: readonly [number, number, number],
    b: Storage,
    bs: readonly [number, number, number],
    batch: number,
    m: number,
    n: number,
    k: number,
    out: Storage,
    bias?: Storage,
  ): void {
    this.#dispatches++;
    const B = bias ? f32(bias) : null;
    products.matmul(
      this.blas,
      f32(a),
      as,
      f32(b),
      bs,
      batch,
      m,
      n,
      k,
      f32(out),
      B,
      this.batchInvariant,
    );
  }
  cast(x: Storage, out: Storage): void {
    this.#dispatches++;
    f32(out).set(f32(x).subarray(0, out.length));
  }
  conv2d(x: Storage, w: Storage, g: ConvGeometry, out: Storage, bias?: Storage): void {
    this.#dispatches++;
    const B = bias ? f32(bias) : null;
    products.conv2d(this.blas, this.#scratch, f32(x), f32(w), g, f32(out), B, this.batchInvariant);
  }
  conv2dInputGrad(dy: Storage, w: Storage, g: ConvGeometry, out: Storage): void {
    this.#dispatches++;
    products.conv2dInputGrad(
      this.blas,
      this.#scratch,
      f32(dy),
      f32(w),
      g,
      f32(out),
      this.batchInvariant,
    );
  }
  conv2dWeightGrad(x: Storage, dy: Storage, g: ConvGeometry, out: Storage): void {
    this.#dispatches++;
    products.conv2dWeightGrad(this.blas, this.#scratch, f32(x), f32(dy), g, f32(out));
  }
  normalizeRows(x: Storage, rows: number, cols: number, eps: number, out: Storage): void {
    this.#dispatches++;
    normalizeRows(f32(x), rows, cols, eps, f32(out));
  }
  groupNorm(x: Storage, gamma: Storage, beta: Storage, g: GroupNormGeometry, out: Storage): void {
    this.#dispatches++;
    groupNorm(f32(x), f32(gamma), f32(beta), g, f32(out));
  }
  groupNormInputGrad(
    x: Storage,
    gamma: Storage,
    dy: Storage,
    g: GroupNormGeometry,
    out: Storage,
  ): void {
    this.#dispatches++;
    groupNormInputGrad(f32(x), f32(gamma), f32(dy), g, f32(out));
  }
  rowRstd(x: Storage, rows: number, cols: number, eps: number, out: Storage): void {
    this.#dispatches++;
    rowRstd(f32(x), rows, cols, eps, f32(out));
  }
  cholesky(a: Storage, batch: number, r: number, out: Storage): void {
    this.#dispatches++;
    cholesky(f32(a), batch, r, f32(out));
  }
  triangularSolve(
    l: Storage,
    b: Storage,
    batch: number,
    r: number,
    m: number,
    transpose: boolean,
    out: Storage,
  ): void {
    this.#dispatches++;
    triangularSolve(f32(l), f32(b), batch, r, m, transpose, f32(out));
  }
  random(p: RandomParams, out: Storage): void {
    this.#dispatches++;
    random(p, f32(out));
  }
  adam(param: Storage, grad: Storage, m: Storage, v: Storage, gate: Storage, p: AdamParams): void {
    this.#dispatches++;
    adam(f32(param), f32(grad), f32(m), f32(v), f32(gate), p);
  }
}
