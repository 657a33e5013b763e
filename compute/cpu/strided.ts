/**
 * Loop nests for strided and broadcast operands. A shape with one strided view per operand is
 * first simplified: unit axes go, and neighbouring axes merge wherever every view steps through
 * them as through one (a contiguous tensor becomes one axis, a per-channel bias over NCHW becomes
 * [N, C, H·W] with strides [0, 1, 0]). Kernels then run the last two axes as a plain double loop
 * (a block) and only the axes above them through an odometer, once per block.
 */

/** A simplified iteration space: at least two axes, innermost last, one stride list per view. */
export interface Layout {
  dims: number[];
  strides: number[][];
}

/** `shape` walked by views with `strides` (one list per view, each as long as `shape`). */
export function simplify(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): Layout {
  const dims: number[] = [];
  const out = strides.map(() => [] as number[]);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d];
    if (size === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, v) => out[v][last] === s[d] * size)) {
      dims[last] *= size;
      strides.forEach((s, v) => (out[v][last] = s[d]));
    } else {
      dims.push(size);
      strides.forEach((s, v) => out[v].push(s[d]));
    }
  }
  while (dims.length < 2) {
    dims.unshift(1);
    out.forEach((s) => s.unshift(0));
  }
  return { dims, strides: out };
}

/**
 * Calls `block(offsets)` once per block of `layout`'s last two axes, `offsets[v]` being view v's
 * offset at the block's first element (`bases` at the first block). The array is reused.
 */
export function forEachBlock(
  layout: Layout,
  bases: readonly number[],
  block: (offsets: number[]) => void,
): void {
  const { dims, strides } = layout, outer = dims.length - 2, views = strides.length;
  const offsets = [...bases];
  let blocks = 1;
  for (let d = 0; d < outer; d++) blocks *= dims[d];
  if (blocks === 0 || dims[outer] === 0 || dims[outer + 1] === 0) return;
  const idx = new Array<number>(outer).fill(0);
  for (let b = 0; b < blocks; b++) {
    block(offsets);
    for (let d = outer - 1; d >= 0; d--) {
      for (let v = 0; v < views; v++) offsets[v] += strides[v][d];
      if (++idx[d] < dims[d]) break;
      for (let v = 0; v < views; v++) offsets[v] -= strides[v][d] * dims[d];
      idx[d] = 0;
    }
  }
}
