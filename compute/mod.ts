/** The compute core's public surface: tensors, ops, autodiff, randomness and backends. */

export type { Backend, DType } from "./backend.ts";
export { Tensor } from "./tensor.ts";
export { sizeOf } from "./shape.ts";
export { keep, tidy, tidyAsync } from "./scope.ts";
export { constant, full, ones, tensor, tensorWithHostCopy, zeros } from "./constants.ts";
export * from "./ops/basic.ts";
export * from "./ops/activations.ts";
export { noGrad } from "./autodiff/mode.ts";
export {
  grad,
  gradients,
  mapTree,
  stopGradient,
  type Tree,
  treeLeaves,
  valueAndGrad,
  vjp,
  watch,
} from "./autodiff/grad.ts";
export {
  divergence,
  divergenceFromPullback,
  type DivergenceMethod,
} from "./autodiff/divergence.ts";
export { Rng, type RngState } from "./rng.ts";
export {
  type BackendName,
  cpuBackend,
  referenceBackend,
  selectBackend,
  webgpuBackend,
} from "./select.ts";
export * from "./ops/normalization.ts";
export * from "./ops/spatial.ts";
export * from "./ops/linalg.ts";
export { assign } from "./assign.ts";
