/**
 * The WGSL of every unary and binary elementwise op, one table each, keyed by op name: an op
 * without its entry does not type-check. The kernels of elementwise.ts select the op with a
 * pipeline-overridable constant whose `switch` is generated here, one case per table entry; its
 * `default:` (which WGSL requires) is unreachable and yields NaN rather than any op's result.
 */

import type { BinaryOp, UnaryOp } from "../../backend.ts";

/** WGSL statements that set `r` from `v`, both of type `T` (f32, or vec4<f32>: four at once). */
type UnaryBody = (T: string) => string;
/** WGSL statements that return the op of `x` and `y`, both of type `T`. */
type BinaryBody = (T: string) => string;

/** σ(v) through exp(−|v|), so no exp overflows. */
const sigmoidOf = (v: string, T: string) =>
  `let e = exp(-abs(${v}));
      let s = select(e / (1.0 + e), 1.0 / (1.0 + e), ${v} >= ${T}(0.0));`;

export const UNARY_WGSL: Record<UnaryOp, UnaryBody> = {
  neg: () => "r = -v;",
  exp: () => "r = exp(v);",
  log: () => "r = log(v);",
  sin: () => "r = sin(v);",
  cos: () => "r = cos(v);",
  sqrt: () => "r = sqrt(v);",
  recip: () => "r = 1.0 / v;",
  // tanh through exp(−2|v|) so large |v| gives ±1, not inf/inf
  tanh: () =>
    `let e = exp(-2.0 * abs(v));
      r = sign(v) * (1.0 - e) / (1.0 + e);`,
  sigmoid: (T) => `${sigmoidOf("v", T)}\n      r = s;`,
  silu: (T) => `${sigmoidOf("v", T)}\n      r = v * s;`,
  abs: () => "r = abs(v);",
  sign: () => "r = sign(v);",
};

export const BINARY_WGSL: Record<BinaryOp, BinaryBody> = {
  add: () => "return x + y;",
  sub: () => "return x - y;",
  mul: () => "return x * y;",
  div: () => "return x / y;",
  maximum: () => "return select(y, x, x >= y);",
  minimum: () => "return select(y, x, x <= y);",
  lt: (T) => `return select(${T}(0.0), ${T}(1.0), x < y);`,
  eq: (T) => `return select(${T}(0.0), ${T}(1.0), x == y);`,
  // y · σ(x)(1 + x(1 − σ(x)))
  siluGrad: (T) => `${sigmoidOf("x", T)}\n      return y * s * (1.0 + x * (1.0 - s));`,
};

/** Each op's value of the kernels' OP constant: its position in its table. */
function codesOf<Op extends string>(table: Record<Op, unknown>): Record<Op, number> {
  return Object.fromEntries(Object.keys(table).map((op, i) => [op, i])) as Record<Op, number>;
}

export const unaryCodes = codesOf(UNARY_WGSL);
export const binaryCodes = codesOf(BINARY_WGSL);

/** A quiet NaN of type T: what an OP value that names no op computes (none does). */
const nan = (T: string) => `${T}(bitcast<f32>(0x7fc00000u))`;

/** `switch OP`, one case per op of `table`, each case's body as the table writes it for T. */
function opSwitch(table: Record<string, (T: string) => string>, T: string, fallback: string) {
  const cases = Object.values(table).map((body, i) =>
    `    case ${i}u: {
      ${body(T)}
    }`
  );
  return `switch OP {
${cases.join("\n")}
    default: { ${fallback} }
  }`;
}

/** Sets `r` (declared, of type T) from `v` by the unary op OP. */
export const unarySwitch = (T: string) => opSwitch(UNARY_WGSL, T, `r = ${nan(T)};`);

/** `apply(x, y)`: the binary op OP of two values of type T. */
export const binaryApply = (T: string) => /* wgsl */ `
fn apply(x: ${T}, y: ${T}) -> ${T} {
  ${opSwitch(BINARY_WGSL, T, `return ${nan(T)};`)}
}`;
