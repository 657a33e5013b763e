/**
 * The kernel registry: every WGSL program the backend dispatches, with the resources it binds
 * after the uniform slot, and which of them compute each primitive. The primitive table is a
 * `Record<Prim, …>`, so a primitive added to primitives.ts without kernels here does not
 * type-check.
 */

import { MAX_WEIGHTED_TERMS } from "../backend.ts";
import type { Prim } from "../primitives.ts";
import {
  BINARY,
  BINARY4,
  FILL,
  UNARY,
  UNARY4,
  weightedSumCode,
  WHERE,
} from "./wgsl/elementwise.ts";
import { COPY, REDUCE } from "./wgsl/movement.ts";
import { MATMUL } from "./wgsl/matmul.ts";
import { ADAM, RANDOM } from "./wgsl/random_adam.ts";
import { matmulTextureCode, PACK } from "./wgsl/matmul_texture.ts";
import { matmulTiledCode, TILE, TILE_SMALL } from "./wgsl/matmul_tiled.ts";
import { CHOLESKY, TRIANGULAR_SOLVE } from "./wgsl/linalg.ts";
import { GROUP_NORM, GROUP_NORM_INPUT_GRAD, NORMALIZE_ROWS, ROW_RSTD } from "./wgsl/normalize.ts";
import { CONV2D, CONV2D_INPUT_GRAD, CONV2D_WEIGHT_GRAD } from "./wgsl/conv2d.ts";
import { CONV2D_TILED } from "./wgsl/conv2d_tiled.ts";
import { CONV_TEXTURE_KERNELS } from "./wgsl/conv2d_texture.ts";

/** How a kernel binds each resource after the uniform slot. */
export type Binding = "read" | "write" | "texture" | "storageTexture";

/** A kernel's WGSL and its bindings. */
export interface KernelSource {
  code: string;
  bindings: readonly Binding[];
}

const product = ["read", "read", "write", "read"] as const;
const texProduct = ["texture", "texture", "write", "read"] as const;

export const KERNELS = {
  fill: { code: FILL, bindings: ["write"] },
  unary: { code: UNARY, bindings: ["read", "write"] },
  binary: { code: BINARY, bindings: ["read", "read", "write"] },
  unary4: { code: UNARY4, bindings: ["read", "write"] },
  binary4: { code: BINARY4, bindings: ["read", "read", "write"] },
  ...weightedSumKernels(),
  where: { code: WHERE, bindings: ["read", "read", "read", "write"] },
  copy: { code: COPY, bindings: ["read", "write"] },
  reduce: { code: REDUCE, bindings: ["read", "write"] },
  matmul: { code: MATMUL, bindings: product },
  pack: { code: PACK, bindings: ["read", "storageTexture"] },
  matmulTexture: { code: matmulTextureCode(4), bindings: texProduct },
  matmulTexture8: { code: matmulTextureCode(8), bindings: texProduct },
  matmulTexture16: { code: matmulTextureCode(16), bindings: texProduct },
  matmulTiled: { code: matmulTiledCode(TILE), bindings: product },
  matmulTiled32: { code: matmulTiledCode(TILE_SMALL), bindings: product },
  random: { code: RANDOM, bindings: ["write"] },
  cholesky: { code: CHOLESKY, bindings: ["read", "write"] },
  normalizeRows: { code: NORMALIZE_ROWS, bindings: ["read", "write"] },
  rowRstd: { code: ROW_RSTD, bindings: ["read", "write"] },
  groupNorm: { code: GROUP_NORM, bindings: ["read", "read", "read", "write"] },
  groupNormInputGrad: { code: GROUP_NORM_INPUT_GRAD, bindings: ["read", "read", "read", "write"] },
  conv2d: { code: CONV2D, bindings: product },
  conv2dInputGrad: { code: CONV2D_INPUT_GRAD, bindings: ["read", "read", "write"] },
  conv2dWeightGrad: { code: CONV2D_WEIGHT_GRAD, bindings: ["read", "read", "write"] },
  conv2dTiled: { code: CONV2D_TILED, bindings: product },
  ...CONV_TEXTURE_KERNELS,
  triangularSolve: { code: TRIANGULAR_SOLVE, bindings: ["read", "read", "write"] },
  adam: { code: ADAM, bindings: ["write", "read", "write", "write", "read"] },
} as const satisfies Record<string, KernelSource>;
export type Kernel = keyof typeof KERNELS;

const unaryKernels = ["unary", "unary4"] as const;
const binaryKernels = ["binary", "binary4"] as const;
const matmulKernels = [
  "matmul",
  "pack",
  "matmulTexture",
  "matmulTexture8",
  "matmulTexture16",
  "matmulTiled",
  "matmulTiled32",
] as const;
/** conv2d's maps: the direct kernel, the tiled implicit GEMM and the texture lowering's. */
const gemmB = ["convPackWeights", "convPackRows", "convGemmB", "convGemmBShort"] as const;
const gemmA = [
  "convPackRows",
  "convPackChannels",
  "convGemmA",
  "convGemmA2",
  "convGemmA1",
] as const;

/**
 * Every kernel that may compute each primitive, whichever variant the backend chooses; a view
 * (reshape) shares its input's storage and computes nothing. Tests compile them all.
 */
export const PRIMITIVE_KERNELS: Record<Prim, readonly Kernel[]> = {
  neg: unaryKernels,
  exp: unaryKernels,
  log: unaryKernels,
  sin: unaryKernels,
  cos: unaryKernels,
  sqrt: unaryKernels,
  recip: unaryKernels,
  tanh: unaryKernels,
  sigmoid: unaryKernels,
  silu: unaryKernels,
  abs: unaryKernels,
  sign: unaryKernels,
  add: binaryKernels,
  sub: binaryKernels,
  mul: binaryKernels,
  div: binaryKernels,
  maximum: binaryKernels,
  minimum: binaryKernels,
  lt: binaryKernels,
  eq: binaryKernels,
  siluGrad: binaryKernels,
  where: ["where"],
  sum: ["reduce"],
  max: ["reduce"],
  reshape: [],
  permute: ["copy"],
  expand: ["copy"],
  slice: ["copy"],
  pad: ["fill", "copy"],
  concat: ["copy"],
  matmul: matmulKernels,
  cast: ["copy"],
  cholesky: ["cholesky"],
  triangularSolve: ["triangularSolve"],
  normalizeRows: ["normalizeRows"],
  groupNorm: ["groupNorm"],
  groupNormInputGrad: ["groupNormInputGrad"],
  weightedSum: Object.keys(KERNELS).filter((k) => k.startsWith("weightedSum")) as Kernel[],
  rowRstd: ["rowRstd"],
  conv2d: ["conv2d", "conv2dTiled", ...gemmB],
  // a stride phase that no tap reaches is zero-filled
  conv2dInputGrad: ["conv2dInputGrad", "conv2dTiled", "fill", ...gemmB],
  conv2dWeightGrad: ["conv2dWeightGrad", "conv2dTiled", ...gemmA],
};

/** The bind group layout entry of one binding kind. */
export function layoutOf(kind: Binding): Omit<GPUBindGroupLayoutEntry, "binding" | "visibility"> {
  switch (kind) {
    case "read":
      return { buffer: { type: "read-only-storage" } };
    case "write":
      return { buffer: { type: "storage" } };
    case "texture":
      return { texture: { sampleType: "unfilterable-float" } };
    case "storageTexture":
      return { storageTexture: { access: "write-only", format: "rgba32float" } };
  }
}

/** weightedSum1 … weightedSum7: one kernel per term count (each term a binding). */
function weightedSumKernels() {
  const table: Record<string, KernelSource> = {};
  for (let k = 1; k <= MAX_WEIGHTED_TERMS; k++) {
    table[`weightedSum${k}`] = {
      code: weightedSumCode(k),
      bindings: [...Array(k).fill("read"), "write"],
    };
  }
  return table as Record<`weightedSum${1 | 2 | 3 | 4 | 5 | 6 | 7}`, KernelSource>;
}
