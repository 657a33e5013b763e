/**
 * The contract between tensors and the two engines (reference loops, WebGPU kernels).
 *
 * Backends see only contiguous storage plus shapes and strides; every primitive of
 * `primitives.ts` maps onto one of these kernels. The `Record<Op, …>` tables inside each
 * backend make a missing kernel a compile error.
 */

export type DType = "f32" | "f64";

export type UnaryOp =
  | "neg"
  | "exp"
  | "log"
  | "sin"
  | "cos"
  | "sqrt"
  | "recip"
  | "tanh"
  | "sigmoid"
  | "silu"
  | "abs"
  | "sign";

export type BinaryOp =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "maximum"
  | "minimum"
  | "lt"
  | "eq"
  /** siluGrad(x, g) = g · silu′(x): the SiLU's backward pass as one kernel */
  | "siluGrad";

export type ReduceOp = "sum" | "max";

/** Distributions the counter-based generator can fill a buffer with. */
export type RandomKind = "uniform" | "normal" | "rademacher" | "truncnormal";

/** Opaque handle to backend memory holding `length` elements of `dtype`. */
export interface Storage {
  readonly dtype: DType;
  readonly length: number;
}

/** A strided window onto a storage: element `idx` lives at `offset + Σ idx[d]·strides[d]`. */
export interface View {
  offset: number;
  strides: readonly number[];
}

/** Philox key and the first counter of a draw; see `rng.ts`. */
export interface RandomParams {
  kind: RandomKind;
  key: readonly [number, number];
  counter: number;
  /** truncation bound τ for `truncnormal`; unused otherwise */
  bound: number;
}

/** Fused Adam(W) hyper-parameters with bias corrections already folded in. */
export interface AdamParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1 − β1^t and 1 − β2^t */
  bias1: number;
  bias2: number;
}

/** Geometry of a 2-D convolution (NCHW input, OIHW weights). */
export interface ConvGeometry {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  stride: number;
  padding: number;
  ho: number;
  wo: number;
}

/** x [n, channels, spatial…] in `groups` groups of channels/groups channels; ε of the variance. */
export interface GroupNormGeometry {
  n: number;
  channels: number;
  spatial: number;
  groups: number;
  eps: number;
}

export interface Backend {
  readonly name: "reference" | "webgpu" | "cpu";
  supports(dtype: DType): boolean;

  alloc(length: number, dtype: DType): Storage;
  write(dst: Storage, data: Float32Array | Float64Array): void;
  read(src: Storage): Promise<Float32Array | Float64Array>;
  free(s: Storage): void;
  /** Bytes held by live storages (not counting pooled, reusable memory). */
  liveBytes(): number;
  /** Submits recorded work without waiting for it. */
  flush(): void;
  /** Counters for benchmarks: kernels dispatched and pipelines compiled so far. */
  stats(): { dispatches: number; pipelines: number; submits: number };

  fill(out: Storage, value: number): void;
  unary(op: UnaryOp, x: Storage, out: Storage): void;
  /** `out[i] = a[view a] op b[view b]`, i ranging over `shape` (broadcast by zero strides). */
  binary(
    op: BinaryOp,
    a: Storage,
    av: View,
    b: Storage,
    bv: View,
    shape: number[],
    out: Storage,
  ): void;
  /** `out = cond != 0 ? a : b`, broadcasting like `binary`. */
  where(
    cond: Storage,
    cv: View,
    a: Storage,
    av: View,
    b: Storage,
    bv: View,
    shape: number[],
    out: Storage,
  ): void;
  /**
   * out = Σ_j weights[j] · terms[j] over `n` contiguous elements (every term the same length):
   * a linear combination in one pass, e.g. a Runge–Kutta stage. At most MAX_WEIGHTED_TERMS
   * terms per call.
   */
  weightedSum(terms: Storage[], weights: readonly number[], n: number, out: Storage): void;
  /** Reduces `x` (shape `shape`) over `axes`; `out` holds the kept axes in order. */
  reduce(op: ReduceOp, x: Storage, shape: number[], axes: number[], out: Storage): void;
  /** Copies `shape` elements from a strided source window into a strided destination window. */
  copy(src: Storage, sv: View, dst: Storage, dv: View, shape: number[]): void;
  /**
   * Batched matmul; each operand's (batch, row, col) strides make transposes free. A `bias` of
   * n elements, when given, is added to every row of the product.
   */
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
  ): void;
  cast(x: Storage, out: Storage): void;
  /** y[n,o,i,j] = bias[o] + Σ x[n,c,i·s−p+a, j·s−p+b] w[o,c,a,b] (zero outside x; no bias, 0). */
  conv2d(x: Storage, w: Storage, g: ConvGeometry, out: Storage, bias?: Storage): void;
  /** The adjoint in x: dx[n,c,·,·] from dy [N,O,Ho,Wo] and w. */
  conv2dInputGrad(dy: Storage, w: Storage, g: ConvGeometry, out: Storage): void;
  /** The adjoint in w: dw[o,c,a,b] from x and dy. */
  conv2dWeightGrad(x: Storage, dy: Storage, g: ConvGeometry, out: Storage): void;
  /**
   * Row standardisation of a contiguous [rows, cols] x: out[r, :] = (x[r, :] − μ_r) · ρ_r with
   * μ_r the row mean and ρ_r = (σ²_r + eps)^(−1/2), σ²_r the biased variance (group norm's core).
   */
  normalizeRows(x: Storage, rows: number, cols: number, eps: number, out: Storage): void;
  /**
   * Group normalisation with its affine map, x [n, C, spatial] contiguous in `groups` groups of
   * C/groups channels: out = normalizeRows(x as [n·groups, (C/groups)·spatial]) · γ_c + β_c.
   */
  groupNorm(
    x: Storage,
    gamma: Storage,
    beta: Storage,
    g: GroupNormGeometry,
    out: Storage,
  ): void;
  /**
   * groupNorm's gradient in x for the output cotangent dy (first order: the VJP rule composes
   * ops instead when a graph is recorded). Per row r of the grouped layout, with x̂ the
   * standardised row and u = dy·γ: dx = ρ_r (u − mean(u) − x̂ · mean(u x̂)).
   */
  groupNormInputGrad(
    x: Storage,
    gamma: Storage,
    dy: Storage,
    g: GroupNormGeometry,
    out: Storage,
  ): void;
  /** ρ_r = (σ²_r + eps)^(−1/2) of each row of a contiguous [rows, cols] x, into out [rows]. */
  rowRstd(x: Storage, rows: number, cols: number, eps: number, out: Storage): void;
  /** Lower Cholesky factors of `batch` symmetric positive definite r×r matrices (reads the lower triangle). */
  cholesky(a: Storage, batch: number, r: number, out: Storage): void;
  /**
   * Solves op(L) X = B for lower-triangular L [batch, r, r] and B [batch, r, m], where op
   * transposes when `transpose`; only L's lower triangle is read.
   */
  triangularSolve(
    l: Storage,
    b: Storage,
    batch: number,
    r: number,
    m: number,
    transpose: boolean,
    out: Storage,
  ): void;
  random(p: RandomParams, out: Storage): void;
  /**
   * In-place fused Adam(W) update; `gate` (one element) skips the whole update where it is 0,
   * so a step with a non-finite loss leaves weights and moments untouched without a readback.
   */
  adam(param: Storage, grad: Storage, m: Storage, v: Storage, gate: Storage, p: AdamParams): void;
}

export const bytesPerElement: Record<DType, number> = { f32: 4, f64: 8 };

/** Largest tensor rank the kernels index (shapes and strides travel as uniforms). */
export const MAX_RANK = 6;

/** Terms one `weightedSum` call takes (a WebGPU stage binds them and its output: 8 buffers). */
export const MAX_WEIGHTED_TERMS = 7;
