/**
 * The reference backend: plain loops over typed arrays, float64 capable. It shares no code
 * with the WGSL kernels, so a wrong formula cannot pass on both; it is the oracle of the tests.
 */

import {
  type AdamParams,
  type Backend,
  type BinaryOp,
  bytesPerElement,
  type ConvGeometry,
  type DType,
  type GroupNormGeometry,
  type RandomParams,
  type ReduceOp,
  type Storage,
  type UnaryOp,
  type View,
} from "../backend.ts";
import { sampleElement } from "../random/philox.ts";
import { contiguousStrides as contiguous, sizeOf } from "../shape.ts";

type Data = Float32Array | Float64Array;

class RefStorage implements Storage {
  constructor(readonly dtype: DType, readonly length: number, readonly data: Data) {}
}

const unaryFns: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sin: Math.sin,
  cos: Math.cos,
  sqrt: Math.sqrt,
  recip: (x) => 1 / x,
  tanh: Math.tanh,
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  silu: (x) => x * (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
};

const binaryFns: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  maximum: (a, b) => (a >= b ? a : b),
  minimum: (a, b) => (a <= b ? a : b),
  lt: (a, b) => (a < b ? 1 : 0),
  eq: (a, b) => (a === b ? 1 : 0),
  siluGrad: (x, g) => {
    const s = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    return g * s * (1 + x * (1 - s));
  },
};

/** Visits every index of `shape`, passing the strided offsets of each view (an odometer). */
function forEachIndex(
  shape: readonly number[],
  views: readonly View[],
  visit: (i: number, offs: number[]) => void,
) {
  const n = sizeOf(shape);
  if (n === 0) return;
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  const offs = views.map((v) => v.offset);
  for (let i = 0; i < n; i++) {
    visit(i, offs);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      for (let k = 0; k < views.length; k++) offs[k] += views[k].strides[d];
      if (idx[d] < shape[d]) break;
      for (let k = 0; k < views.length; k++) offs[k] -= views[k].strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

export class ReferenceBackend implements Backend {
  readonly name = "reference";
  #live = 0;
  #dispatches = 0;

  supports(_dtype: DType): boolean {
    return true;
  }
  alloc(length: number, dtype: DType): Storage {
    this.#live += length * bytesPerElement[dtype];
    return new RefStorage(
      dtype,
      length,
      dtype === "f64" ? new Float64Array(length) : new Float32Array(length),
    );
  }
  write(dst: Storage, data: Data): void {
    (dst as RefStorage).data.set(data);
  }
  read(src: Storage): Promise<Data> {
    return Promise.resolve((src as RefStorage).data.slice());
  }
  free(s: Storage): void {
    this.#live -= s.length * bytesPerElement[s.dtype];
  }
  liveBytes(): number {
    return this.#live;
  }
  flush(): void {}
  stats() {
    return { dispatches: this.#dispatches, pipelines: 0, submits: 0 };
  }

  fill(out: Storage, value: number): void {
    this.#dispatches++;
    d(out).fill(value);
  }
  unary(op: UnaryOp, x: Storage, out: Storage): void {
    this.#dispatches++;
    const f = unaryFns[op], src = d(x), dst = d(out);
    for (let i = 0; i < dst.length; i++) dst[i] = f(src[i]);
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
    const f = binaryFns[op], A = d(a), B = d(b), O = d(out);
    forEachIndex(shape, [av, bv], (i, [ia, ib]) => {
      O[i] = f(A[ia], B[ib]);
    });
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
    const C = d(c), A = d(a), B = d(b), O = d(out);
    forEachIndex(shape, [cv, av, bv], (i, [ic, ia, ib]) => {
      O[i] = C[ic] !== 0 ? A[ia] : B[ib];
    });
  }
  reduce(op: ReduceOp, x: Storage, shape: number[], axes: number[], out: Storage): void {
    this.#dispatches++;
    const X = d(x), O = d(out);
    const strides = contiguous(shape);
    const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const keptView = { offset: 0, strides: kept.map((i) => strides[i]) };
    const redShape = axes.map((i) => shape[i]);
    const redStrides = axes.map((i) => strides[i]);
    forEachIndex(kept.map((i) => shape[i]), [keptView], (o, [base]) => {
      let acc = op === "sum" ? 0 : -Infinity;
      forEachIndex(redShape, [{ offset: base, strides: redStrides }], (_, [ix]) => {
        acc = op === "sum" ? acc + X[ix] : Math.max(acc, X[ix]);
      });
      O[o] = acc;
    });
  }
  copy(src: Storage, sv: View, dst: Storage, dv: View, shape: number[]): void {
    this.#dispatches++;
    const S = d(src), D = d(dst);
    forEachIndex(shape, [sv, dv], (_, [is, id]) => {
      D[id] = S[is];
    });
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
    const A = d(a), B = d(b), O = d(out), init = bias ? d(bias).subarray(0, n) : null;
    const row = new Float64Array(n);
    for (let p = 0; p < batch; p++) {
      for (let i = 0; i < m; i++) {
        if (init) row.set(init);
        else row.fill(0);
        for (let q = 0; q < k; q++) {
          const aiq = A[p * as[0] + i * as[1] + q * as[2]];
          const bBase = p * bs[0] + q * bs[1];
          for (let j = 0; j < n; j++) row[j] += aiq * B[bBase + j * bs[2]];
        }
        O.set(row, (p * m + i) * n);
      }
    }
  }
  cast(x: Storage, out: Storage): void {
    this.#dispatches++;
    d(out).set(d(x).subarray(0, out.length));
  }
  // The convolution loops run the innermost index over a contiguous output (or dy) row, with
  // each tap's valid output range computed once instead of tested per element; sums gather in
  // float64, as in matmul.
  conv2d(x: Storage, w: Storage, g: ConvGeometry, out: Storage, bias?: Storage): void {
    this.#dispatches++;
    const X = d(x), W = d(w), Y = d(out), t = taps(g), hw = g.h * g.w, k = g.kh * g.kw;
    const { stride: s, padding: p, w: iw, wo } = g, plane = new Float64Array(g.ho * wo);
    const B = bias ? d(bias) : null;
    for (let n = 0; n < g.n; n++) {
      for (let o = 0; o < g.o; o++) {
        plane.fill(B ? B[o] : 0);
        for (let c = 0; c < g.c; c++) {
          const xb = (n * g.c + c) * hw, wb = (o * g.c + c) * k;
          for (const { a, b, i0, i1, j0, j1 } of t) {
            const wv = W[wb + a * g.kw + b];
            for (let i = i0; i < i1; i++) {
              const xr = xb + (i * s - p + a) * iw - p + b, yr = i * wo;
              for (let j = j0; j < j1; j++) plane[yr + j] += X[xr + j * s] * wv;
            }
          }
        }
        Y.set(plane, (n * g.o + o) * g.ho * wo);
      }
    }
  }
  conv2dInputGrad(dy: Storage, w: Storage, g: ConvGeometry, out: Storage): void {
    this.#dispatches++;
    const DY = d(dy), W = d(w), DX = d(out), t = taps(g), k = g.kh * g.kw;
    const { stride: s, padding: p, w: iw, wo } = g, plane = new Float64Array(g.h * iw);
    for (let n = 0; n < g.n; n++) {
      for (let c = 0; c < g.c; c++) {
        plane.fill(0);
        for (let o = 0; o < g.o; o++) {
          const yb = (n * g.o + o) * g.ho * wo, wb = (o * g.c + c) * k;
          for (const { a, b, i0, i1, j0, j1 } of t) {
            const wv = W[wb + a * g.kw + b];
            for (let i = i0; i < i1; i++) {
              const xr = (i * s - p + a) * iw - p + b, yr = yb + i * wo;
              for (let j = j0; j < j1; j++) plane[xr + j * s] += DY[yr + j] * wv;
            }
          }
        }
        DX.set(plane, (n * g.c + c) * g.h * iw);
      }
    }
  }
  conv2dWeightGrad(x: Storage, dy: Storage, g: ConvGeometry, out: Storage): void {
    this.#dispatches++;
    const X = d(x), DY = d(dy), DW = d(out), t = taps(g), hw = g.h * g.w, k = g.kh * g.kw;
    const { stride: s, padding: p, w: iw, wo } = g;
    for (let o = 0; o < g.o; o++) {
      for (let c = 0; c < g.c; c++) {
        for (const { a, b, i0, i1, j0, j1 } of t) {
          let acc = 0;
          for (let n = 0; n < g.n; n++) {
            const xb = (n * g.c + c) * hw, yb = (n * g.o + o) * g.ho * wo;
            for (let i = i0; i < i1; i++) {
              const xr = xb + (i * s - p + a) * iw - p + b, yr = yb + i * wo;
              for (let j = j0; j < j1; j++) acc += X[xr + j * s] * DY[yr + j];
            }
          }
          DW[(o * g.c + c) * k + a * g.kw + b] = acc;
        }
      }
    }
  }
  normalizeRows(x: Storage, rows: number, cols: number, eps: number, out: Storage): void {
    this.#rowStats(x, rows, cols, eps, (r, mean, rstd, X) => {
      const Y = d(out);
      for (let i = r * cols; i < (r + 1) * cols; i++) Y[i] = (X[i] - mean) * rstd;
    });
  }
  groupNorm(
    x: Storage,
    gamma: Storage,
    beta: Storage,
    g: GroupNormGeometry,
    out: Storage,
  ): void {
    const G = d(gamma), B = d(beta), Y = d(out);
    this.#groupRows(x, g, (at, cols, channel, mean, rstd, X) => {
      for (let i = 0; i < cols; i++) {
        const c = channel(i);
        Y[at + i] = (X[at + i] - mean) * rstd * G[c] + B[c];
      }
    });
  }
  groupNormInputGrad(
    x: Storage,
    gamma: Storage,
    dy: Storage,
    g: GroupNormGeometry,
    out: Storage,
  ): void {
    const G = d(gamma), DY = d(dy), O = d(out);
    const u = new Float64Array((g.channels / g.groups) * g.spatial);
    this.#groupRows(x, g, (at, cols, channel, mean, rstd, X) => {
      let su = 0, sux = 0;
      for (let i = 0; i < cols; i++) {
        u[i] = DY[at + i] * G[channel(i)];
        su += u[i];
        sux += u[i] * (X[at + i] - mean) * rstd;
      }
      for (let i = 0; i < cols; i++) {
        O[at + i] = rstd * (u[i] - su / cols - (X[at + i] - mean) * rstd * (sux / cols));
      }
    });
  }
  weightedSum(terms: Storage[], weights: readonly number[], n: number, out: Storage): void {
    this.#dispatches++;
    const O = d(out), T = terms.map(d);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < T.length; j++) s += weights[j] * T[j][i];
      O[i] = s;
    }
  }
  rowRstd(x: Storage, rows: number, cols: number, eps: number, out: Storage): void {
    this.#rowStats(x, rows, cols, eps, (r, _mean, rstd) => {
      d(out)[r] = rstd;
    });
  }
  /**
   * #rowStats over group norm's (example, group) rows, each given its offset, its length and the
   * channel of its element i.
   */
  #groupRows(
    x: Storage,
    g: GroupNormGeometry,
    use: (
      at: number,
      cols: number,
      channel: (i: number) => number,
      mean: number,
      rstd: number,
      X: ArrayLike<number>,
    ) => void,
  ): void {
    const perGroup = g.channels / g.groups, cols = perGroup * g.spatial;
    this.#rowStats(x, g.n * g.groups, cols, g.eps, (r, mean, rstd, X) => {
      const c0 = (r % g.groups) * perGroup;
      use(r * cols, cols, (i) => c0 + Math.floor(i / g.spatial), mean, rstd, X);
    });
  }
  /** Two-pass mean and variance per row (accurate where Σx² − (Σx)²/n would cancel). */
  #rowStats(
    x: Storage,
    rows: number,
    cols: number,
    eps: number,
    use: (row: number, mean: number, rstd: number, X: ArrayLike<number>) => void,
  ): void {
    this.#dispatches++;
    const X = d(x);
    for (let r = 0; r < rows; r++) {
      let s = 0, q = 0;
      for (let i = r * cols; i < (r + 1) * cols; i++) s += X[i];
      const mean = s / cols;
      for (let i = r * cols; i < (r + 1) * cols; i++) q += (X[i] - mean) ** 2;
      use(r, mean, 1 / Math.sqrt(q / cols + eps), X);
    }
  }
  cholesky(a: Storage, batch: number, r: number, out: Storage): void {
    this.#dispatches++;
    const A = d(a), L = d(out);
    for (let p = 0; p < batch; p++) {
      const o = p * r * r;
      for (let j = 0; j < r; j++) {
        let s = A[o + j * r + j];
        for (let k = 0; k < j; k++) s -= L[o + j * r + k] ** 2;
        const diag = Math.sqrt(s);
        L[o + j * r + j] = diag;
        for (let i = j + 1; i < r; i++) {
          let t = A[o + i * r + j];
          for (let k = 0; k < j; k++) t -= L[o + i * r + k] * L[o + j * r + k];
          L[o + i * r + j] = t / diag;
          L[o + j * r + i] = 0;
        }
      }
    }
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
    const L = d(l), B = d(b), X = d(out);
    for (let p = 0; p < batch; p++) {
      const lo = p * r * r, bo = p * r * m;
      for (let c = 0; c < m; c++) {
        // forward substitution for L X = B, backward for Lᵀ X = B
        for (let step = 0; step < r; step++) {
          const i = transpose ? r - 1 - step : step;
          let s = B[bo + i * m + c];
          for (let step2 = 0; step2 < step; step2++) {
            const k = transpose ? r - 1 - step2 : step2;
            s -= (transpose ? L[lo + k * r + i] : L[lo + i * r + k]) * X[bo + k * m + c];
          }
          X[bo + i * m + c] = s / L[lo + i * r + i];
        }
      }
    }
  }
  random(p: RandomParams, out: Storage): void {
    this.#dispatches++;
    const O = d(out);
    for (let i = 0; i < O.length; i++) O[i] = sampleElement(p, i);
  }
  adam(param: Storage, grad: Storage, m: Storage, v: Storage, gate: Storage, p: AdamParams): void {
    this.#dispatches++;
    if (d(gate)[0] === 0) return;
    const P = d(param), G = d(grad), M = d(m), V = d(v);
    for (let i = 0; i < P.length; i++) {
      M[i] = p.beta1 * M[i] + (1 - p.beta1) * G[i];
      V[i] = p.beta2 * V[i] + (1 - p.beta2) * G[i] * G[i];
      const step = (M[i] / p.bias1) / (Math.sqrt(V[i] / p.bias2) + p.eps);
      P[i] -= p.lr * (step + p.weightDecay * P[i]);
    }
  }
}

/**
 * Each kernel tap (a, b) with the output rows [i0, i1) and columns [j0, j1) it reads inside the
 * input (i·s − p + a ∈ [0, h), j·s − p + b ∈ [0, w)), in (a, b) order.
 */
function taps(g: ConvGeometry) {
  // outputs i of [0, count) with i·s − p + tap ∈ [0, size)
  const span = (tap: number, size: number, count: number) => [
    Math.max(0, Math.ceil((g.padding - tap) / g.stride)),
    Math.min(count, Math.floor((size - 1 + g.padding - tap) / g.stride) + 1),
  ];
  const out = [];
  for (let a = 0; a < g.kh; a++) {
    const [i0, i1] = span(a, g.h, g.ho);
    for (let b = 0; b < g.kw; b++) {
      const [j0, j1] = span(b, g.w, g.wo);
      out.push({ a, b, i0, i1, j0, j1 }); // possibly empty: dw of that tap is then 0
    }
  }
  return out;
}

function d(s: Storage): Data {
  return (s as RefStorage).data;
}
