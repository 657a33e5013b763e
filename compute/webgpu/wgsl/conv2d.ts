/**
 * 2-D convolution kernels. The direct ones, one thread per output element, gathering (no
 * atomics), serve real GPUs and convolutions too small to pay for packing: forward, input
 * gradient and weight gradient, correct for every stride and padding. `convGemm` is the
 * product of the texture lowering for CPU-backed adapters (packs in conv2d_texture.ts).
 */

import { MAIN_1D, PRELUDE } from "./common.ts";

// params: [0] count, [1] n, [2] c, [3] h, [4] w, [5] o, [6] kh, [7] kw, [8] stride, [9] pad, [10] ho, [11] wo
const GEOMETRY = /* wgsl */ `
struct Geo { n: u32, c: u32, h: u32, w: u32, o: u32, kh: u32, kw: u32, s: u32, p: u32, ho: u32, wo: u32 }
fn geo() -> Geo {
  return Geo(P(1u), P(2u), P(3u), P(4u), P(5u), P(6u), P(7u), P(8u), P(9u), P(10u), P(11u));
}`;

/**
 * The forward map's optional bias (BIAS = 1), one per output row of the product (the output
 * channel), added where a kernel first stores; binding 4 holds a placeholder when absent.
 */
export const CONV_BIAS = /* wgsl */ `
override BIAS: u32 = 0u;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
fn conv_bias(o: u32) -> f32 {
  if (BIAS == 1u) { return bias[o]; }
  return 0.0;
}`;

export const CONV2D = PRELUDE + GEOMETRY + CONV_BIAS + /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${MAIN_1D} {
  let id = flat_index(gid, nwg);
  if (id >= P(0u)) { return; }
  let g = geo();
  let j = id % g.wo; let i = (id / g.wo) % g.ho; let o = (id / (g.wo * g.ho)) % g.o; let n = id / (g.wo * g.ho * g.o);
  var acc = conv_bias(o);
  for (var c = 0u; c < g.c; c++) {
    for (var a = 0u; a < g.kh; a++) {
      let yy = i32(i * g.s + a) - i32(g.p);
      if (yy < 0 || yy >= i32(g.h)) { continue; }
      for (var b = 0u; b < g.kw; b++) {
        let xx = i32(j * g.s + b) - i32(g.p);
        if (xx < 0 || xx >= i32(g.w)) { continue; }
        acc += x[((n * g.c + c) * g.h + u32(yy)) * g.w + u32(xx)] * wt[((o * g.c + c) * g.kh + a) * g.kw + b];
      }
    }
  }
  y[id] = acc;
}`;

export const CONV2D_INPUT_GRAD = PRELUDE + GEOMETRY + /* wgsl */ `
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
${MAIN_1D} {
  let id = flat_index(gid, nwg);
  if (id >= P(0u)) { return; }
  let g = geo();
  let xx = id % g.w; let yy = (id / g.w) % g.h; let c = (id / (g.w * g.h)) % g.c; let n = id / (g.w * g.h * g.c);
  var acc = 0.0;
  for (var a = 0u; a < g.kh; a++) {
    // output row i with i·s − p + a = yy
    let ti = i32(yy + g.p) - i32(a);
    if (ti < 0 || ti % i32(g.s) != 0) { continue; }
    let i = u32(ti) / g.s;
    if (i >= g.ho) { continue; }
    for (var b = 0u; b < g.kw; b++) {
      let tj = i32(xx + g.p) - i32(b);
      if (tj < 0 || tj % i32(g.s) != 0) { continue; }
      let j = u32(tj) / g.s;
      if (j >= g.wo) { continue; }
      for (var o = 0u; o < g.o; o++) {
        acc += dy[((n * g.o + o) * g.ho + i) * g.wo + j] * wt[((o * g.c + c) * g.kh + a) * g.kw + b];
      }
    }
  }
  dx[id] = acc;
}`;

export const CONV2D_WEIGHT_GRAD = PRELUDE + GEOMETRY + /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
${MAIN_1D} {
  let id = flat_index(gid, nwg);
  if (id >= P(0u)) { return; }
  let g = geo();
  let b = id % g.kw; let a = (id / g.kw) % g.kh; let c = (id / (g.kw * g.kh)) % g.c; let o = id / (g.kw * g.kh * g.c);
  var acc = 0.0;
  for (var n = 0u; n < g.n; n++) {
    for (var i = 0u; i < g.ho; i++) {
      let yy = i32(i * g.s + a) - i32(g.p);
      if (yy < 0 || yy >= i32(g.h)) { continue; }
      for (var j = 0u; j < g.wo; j++) {
        let xx = i32(j * g.s + b) - i32(g.p);
        if (xx < 0 || xx >= i32(g.w)) { continue; }
        acc += x[((n * g.c + c) * g.h + u32(yy)) * g.w + u32(xx)] * dy[((n * g.o + o) * g.ho + i) * g.wo + j];
      }
    }
  }
  dw[id] = acc;
}`;

/** Lanes of a texture-GEMM workgroup: one SIMD vector on lavapipe. */
export const CONV_GEMM_LANES = 8;

/**
 * The texture GEMM: out[row, column] = Σ_k A[row, k] · B[k, column] over one chunk, A texels
 * (k step, row), B texels (column texel, 4·k step + r). One operand reads the shifted rows of
 * conv2d_texture.ts directly (an implicit im2col): B for the forward pass and the input
 * gradient (k = taps (q, a, b), columns = output texels (n, i, xt)), A for the weight gradient
 * (rows = taps, k = output texels); the other is a plain packed matrix.
 *
 * Each lane keeps a rows × cols block of texel accumulators (16 × 4 × vec4 = 256 floats): on
 * lavapipe the texel loads, not the FMAs, bound the loop, so a large block pays for them
 * (measured at 64 × 32768 × 576 in CPU-seconds: 3.5 GFLOP/s with 4 × 1 as in MATMUL_TEX,
 * 5.7 with 8 × 1, 17–18 with 16 × 4, ~15% more with 16 × 8). The code is unrolled, generated
 * per tile: private arrays would live in memory. The stores, though, loop over rows: 64 inlined
 * copies took LLVM ~2 s to compile (0.1 s now). Lanes take interleaved column texels so that
 * neighbours read neighbouring texels.
 *
 * The store: column texel t = c0 + x of image t / wq holds positions p = 4(t % wq) + e on a
 * grid `cp` wide, p = (y', x'), kept where x' < cv; they go to n·img + (m0 + row)·rowStride +
 * (y'·ys + yo)·pitch + x'·xs + xo, added to what is there when accumulating (k chunks after
 * the first).
 * params: [0] M, [1] column texels, [2] k steps, [3] accumulate, [4] c0, [5] wq, [6] cp,
 * [7] cv, [8] img, [9] rowStride, [10] pitch, [11] ys, [12] yo, [13] xs, [14] xo, [15] m0,
 * shifted rows: [16] wr, [17] Hp, [18] s, [19] kh', [20] kw', [21] K, [22] layer rows, [23] Ho
 */
export function convGemm(implicit: "a" | "b", rows: number, cols: number): string {
  const each = (n: number, f: (i: number) => string, sep = "\n") =>
    Array.from({ length: n }, (_, i) => f(i)).join(sep);
  const lanes = CONV_GEMM_LANES;
  const bLoad = (c: number, e: number) =>
    implicit === "b"
      ? `select(vec4<f32>(0.0), textureLoad(tb, vec2<u32>(bx${c} + xo, by${c} + yo), 0), ok${e})`
      : `textureLoad(tb, vec2<u32>(bx${c}, 4u * q + ${e}u), 0)`;
  const aLoad = (r: number) =>
    implicit === "a"
      ? `textureLoad(ta, vec2<u32>(ax${r} + xt, ay${r} + yb), 0)`
      : `textureLoad(ta, vec2<u32>(q, ay${r}), 0)`;
  // The next tap (b, then a, then channel) of the implicit B operand, and below the next
  // output texel (xt, then i, then n) of the implicit A operand, step by selects: a branch
  // splits the loop body around the live accumulators (the weight gradient's product ran
  // 1.4× faster branch-free).
  const nextTap = [
    "tb_ += 1u; yo += lr; let wb${e} = tb_ == kw; tb_ = select(tb_, 0u, wb${e});",
    "ta_ = select(ta_, ta_ + 1u, wb${e}); yo = select(yo, yo + 1u - kw * lr, wb${e});",
    "let wa${e} = ta_ == kh; ta_ = select(ta_, 0u, wa${e}); yo = select(yo, yo - kh, wa${e});",
    "xo = select(xo, xo + wr, wa${e});",
  ].join("\n    ");
  return PRELUDE + /* wgsl */ `
@group(0) @binding(1) var ta: texture_2d<f32>;
@group(0) @binding(2) var tb: texture_2d<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${CONV_BIAS}
const NONE = 0xffffffffu;
// Output offsets (without the row term) of the four positions of column texel t.
fn column_offsets(t: u32) -> vec4<u32> {
  let wq = P(5u); let cp = P(6u);
  let base = (t / wq) * P(8u);
  let p0 = (t % wq) * 4u;
  var i = p0 / cp; var j = p0 % cp;
  var offs = vec4<u32>(NONE);
  for (var e = 0u; e < 4u; e++) {
    if (j < P(7u)) { offs[e] = base + (i * P(11u) + P(12u)) * P(10u) + j * P(13u) + P(14u); }
    j++; if (j == cp) { j = 0u; i++; }
  }
  return offs;
}
fn store(offs: vec4<u32>, row: u32, v: vec4<f32>) {
  if (row >= P(0u)) { return; }
  let at = (P(15u) + row) * P(9u);
  for (var e = 0u; e < 4u; e++) {
    if (offs[e] == NONE) { continue; }
    if (P(3u) != 0u) { out[offs[e] + at] += v[e]; } else { out[offs[e] + at] = v[e] + conv_bias(P(15u) + row); }
  }
}
@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m = P(0u); let nt = P(1u); let kq = P(2u); let wq = P(5u);
  let wr = P(16u); let hp = P(17u); let s = P(18u); let kh = P(19u); let kw = P(20u);
  let lr = P(22u); let ho = P(23u);
  let row0 = wid.y * ${rows}u;
  let t0 = wid.x * ${lanes * cols}u + lid.x;
${each(cols, (c) => `  let bx${c}_t = min(t0 + ${c * lanes}u, nt - 1u);`)}
${
    implicit === "b"
      ? each(cols, (c) =>
        `  let bx${c} = bx${c}_t % wr; let by${c} = (bx${c}_t / wq) * hp + ((bx${c}_t % wq) / wr) * s;`)
      : each(cols, (c) =>
        `  let bx${c} = bx${c}_t;`)
  }
${
    implicit === "a"
      ? each(rows, (r) =>
        `  let r${r} = min(row0 + ${r}u, m - 1u) % (kh * kw); let ax${r} = (min(row0 + ${r}u, m - 1u) / (kh * kw)) * wr; let ay${r} = r${r} / kw + (r${r} % kw) * lr;`)
      : each(rows, (r) =>
        `  let ay${r} = min(row0 + ${r}u, m - 1u);`)
  }
${each(rows, (r) => each(cols, (c) => `  var acc${r}_${c} = vec4<f32>(0.0);`))}
  var xo = 0u; var yo = 0u; var ta_ = 0u; var tb_ = 0u; var xt = 0u; var yb = 0u; var ii = 0u;
  for (var q = 0u; q < kq; q++) {
${
    each(4, (e) =>
      (implicit === "b" ? `    let ok${e} = 4u * q + ${e}u < P(21u);\n` : "") +
      each(cols, (c) => `    let b${c}_${e} = ${bLoad(c, e)};`) +
      (implicit === "b" ? `\n    ${nextTap.replaceAll("${e}", String(e))}` : ""))
  }
${each(rows, (r) => `    let a${r} = ${aLoad(r)};`)}
${
    each(rows, (r) =>
      each(cols, (c) =>
        `    acc${r}_${c} = fma(vec4<f32>(a${r}.x), b${c}_0, fma(vec4<f32>(a${r}.y), b${c}_1, ` +
        `fma(vec4<f32>(a${r}.z), b${c}_2, fma(vec4<f32>(a${r}.w), b${c}_3, acc${r}_${c}))));`))
  }
${
    implicit === "a"
      ? [
        "    xt += 1u; let wx = xt == wr; xt = select(xt, 0u, wx); ii = select(ii, ii + 1u, wx);",
        "    yb = select(yb, yb + s, wx); let wi = ii == ho; ii = select(ii, 0u, wi);",
        "    yb = select(yb, yb + hp - s * ho, wi);",
      ].join("\n")
      : ""
  }
  }
${
    each(cols, (c) =>
      `  if (t0 + ${c * lanes}u < nt) {\n` +
      `    let offs = column_offsets(P(4u) + t0 + ${c * lanes}u);\n` +
      `    var accs = array<vec4<f32>, ${rows}>(${each(rows, (r) => `acc${r}_${c}`, ", ")});\n` +
      `    for (var r = 0u; r < ${rows}u; r++) { store(offs, row0 + r, accs[r]); }\n  }`)
  }
}`;
}
