/** In-place update of a long-lived tensor (parameters, optimiser state); never recorded on the tape. */

import { fmt, sameShape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/** Copies `value` into `target`'s storage; both keep their identities. */
export function assign(target: Tensor, value: Tensor): void {
  if (!sameShape(target.shape, value.shape) || target.dtype !== value.dtype) {
    throw new Error(
      `assign: ${fmt(value.shape)} ${value.dtype} does not fit ${
        fmt(target.shape)
      } ${target.dtype}`,
    );
  }
  if (target.size === 0) return;
  target.shared.host = null; // its values are no longer the uploaded ones
  target.backend.copy(value.storage, { offset: 0, strides: [1] }, target.storage, {
    offset: 0,
    strides: [1],
  }, [
    target.size,
  ]);
}
