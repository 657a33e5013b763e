import assert from "node:assert/strict";
import { gpuTest } from "../_helpers/backends.ts";
import * as C from "../../compute/mod.ts";

const ref = C.referenceBackend();
const t = (shape: number[], dtype: C.DType = "f32") => C.zeros(ref, shape, dtype);

Deno.test("mismatched broadcasts name the op and both shapes", () => {
  assert.throws(
    () => C.add(t([2, 3]), t([4])),
    /^Error: add: shapes \[2, 3\] and \[4\] do not broadcast$/,
  );
  assert.throws(
    () => C.mul(t([3, 1]), t([2, 4])),
    /mul: shapes \[3, 1\] and \[2, 4\] do not broadcast/,
  );
  assert.throws(() => C.lt(t([0]), t([2])), /lt: shapes \[0\] and \[2\] do not broadcast/);
  assert.throws(
    () => C.where(t([2]), t([3]), 0),
    /where: shapes \[2\] and \[3\] and \[\] do not broadcast/,
  );
  assert.throws(
    () => C.expand(t([3]), [2, 4]),
    /expand: shapes \[3\] and \[2, 4\] do not broadcast/,
  );
  assert.throws(() => C.expand(t([2, 3]), [3]), /expand: \[2, 3\] cannot be expanded to \[3\]/);
  assert.throws(() => t([1, 1, 1, 1, 1, 1, 1]), /full: rank 7 of \[1, 1, 1, 1, 1, 1, 1\] exceeds/);
});

Deno.test("bad axes: out of range, repeated, not a permutation", () => {
  const x = t([2, 3]);
  assert.throws(() => C.sum(x, [2]), /sum: axis 2 is out of range for rank 2/);
  assert.throws(() => C.max(x, [-3]), /max: axis -3 is out of range for rank 2/);
  assert.throws(() => C.sum(x, [0.5]), /sum: axis 0.5 is out of range/);
  assert.throws(() => C.sum(x, [1, -1]), /sum: axis -1 is repeated/);
  assert.throws(() => C.max(x, [0, 0]), /max: axis 0 is repeated/);
  assert.throws(() => C.permute(x, [0, 0]), /permute: axis 0 is repeated/);
  assert.throws(() => C.permute(x, [1]), /permute: \[1\] is not a permutation of 2 axes/);
  assert.throws(() => C.permute(x, [0, 2]), /permute: axis 2 is out of range for rank 2/);
  assert.throws(() => C.concat([x, x], 2), /concat: axis 2 is out of range for rank 2/);
  assert.throws(() => C.mean(x, [5]), /mean: axis 5 is out of range/);
  assert.throws(() => C.max(t([2, 0]), [1]), /max: empty axis in \[2, 0\]/);
});

Deno.test("bad reshapes name both shapes", () => {
  const x = t([2, 3]);
  assert.throws(
    () => C.reshape(x, [4, 2]),
    /reshape: cannot view \[2, 3\] \(6 elements\) as \[4, 2\]/,
  );
  assert.throws(
    () => C.reshape(x, [-1, 4]),
    /reshape: cannot view \[2, 3\] \(6 elements\) as \[-1, 4\]/,
  );
  assert.throws(() => C.reshape(x, [-1, -1]), /reshape: cannot view \[2, 3\] .* as \[-1, -1\]/);
  assert.throws(() => C.reshape(x, [-2, -3]), /reshape: cannot view \[2, 3\]/);
  assert.throws(() => C.reshape(x, [1, 1, 1, 1, 1, 1, 6]), /reshape: rank 7/);
});

Deno.test("bad slice, pad and concat arguments name the shape", () => {
  const x = t([3, 4]);
  assert.throws(() => C.slice(x, [0, 2], [3, 5]), /slice: range 2:5 is outside axis 1 of \[3, 4\]/);
  assert.throws(() => C.slice(x, [2, 0], [1, 4]), /slice: range 2:1 is outside axis 0 of \[3, 4\]/);
  assert.throws(() => C.slice(x, [-1, 0], [2, 4]), /slice: range -1:2 is outside axis 0/);
  assert.throws(
    () => C.slice(x, [0], [1]),
    /slice: need 2 starts and ends for \[3, 4\], got \[0\]:\[1\]/,
  );
  assert.throws(() => C.pad(x, [0, -1], [0, 0]), /pad: need 2 non-negative pads .* \[3, 4\]/);
  assert.throws(() => C.pad(x, [1], [1]), /pad: need 2 non-negative pads/);
  assert.throws(
    () => C.concat([x, t([2, 3])], 0),
    /concat: shapes \[3, 4\], \[2, 3\] differ off axis 0/,
  );
  assert.throws(() => C.concat([x, t([4])], 0), /concat: shapes \[3, 4\], \[4\] differ off axis 0/);
  assert.throws(() => C.concat([], 0), /concat: no tensors given/);
});

Deno.test("matmul mismatches name both shapes and the transposes", () => {
  assert.throws(
    () => C.matmul(t([2, 3]), t([4, 2])),
    /matmul: \[2, 3\] and \[4, 2\] do not multiply/,
  );
  assert.throws(
    () => C.matmul(t([2, 3]), t([3, 2]), false, true),
    /matmul: \[2, 3\] and \[3, 2\]ᵀ do not multiply/,
  );
  assert.throws(
    () => C.matmul(t([3, 2]), t([2, 3]), true, false),
    /matmul: \[3, 2\]ᵀ and \[2, 3\] do not multiply/,
  );
  assert.doesNotThrow(() => C.matmul(t([3, 2]), t([3, 2]), true, false));
  assert.throws(() => C.matmul(t([2, 2, 3]), t([3, 3, 2])), /matmul: \[2, 2, 3\] and \[3, 3, 2\]/);
  assert.throws(() => C.matmul(t([2, 3]), t([1, 3, 2])), /matmul: \[2, 3\] and \[1, 3, 2\]/);
  assert.throws(() => C.matmul(t([3]), t([3])), /matmul: \[3\] and \[3\] do not multiply/);
});

Deno.test("dtype and backend mismatches name the op and both dtypes", async () => {
  assert.throws(() => C.add(t([2]), t([2], "f64")), /add: dtypes f32 and f64 differ; cast first/);
  assert.throws(() => C.where(t([2], "f64"), t([2]), 0), /where: dtypes f64 and f32 differ/);
  assert.throws(() => C.matmul(t([2, 2], "f64"), t([2, 2])), /matmul: dtypes f64 and f32 differ/);
  assert.throws(() => C.concat([t([2]), t([2], "f64")], 0), /concat: dtypes f32 and f64 differ/);
  assert.throws(
    () => C.tensor(ref, [1, 2, 3], [2, 2]),
    /tensor: 3 values do not fill shape \[2, 2\]/,
  );
  await assert.rejects(
    () => t([2, 2]).item(),
    /item\(\): tensor has shape \[2, 2\], not one element/,
  );
});

Deno.test("a disposed tensor names its shape and how it was freed", async () => {
  const x = t([2, 3]);
  x.dispose();
  const used = /tensor #\d+ \[2, 3\] was used after being disposed/;
  assert.throws(() => C.exp(x), used);
  assert.throws(() => C.add(x, 1), used);
  assert.throws(() => C.reshape(x, [6]), used);
  await assert.rejects(() => x.read(), used);
  let inner: C.Tensor | null = null;
  const kept = C.tidy(() => {
    inner = C.ones(ref, [4]);
    return C.mul(inner, 2);
  });
  assert.deepEqual([...(await kept.read())], [2, 2, 2, 2]);
  assert.throws(() => C.neg(inner!), /tensor #\d+ \[4\] was used after being disposed .*tidy/);
  x.dispose(); // disposing twice is harmless
});

gpuTest("WebGPU: no float64, and operands on two backends are refused", (gpu) => {
  assert.throws(() => C.cast(C.zeros(gpu, [2]), "f64"), /cast: backend webgpu has no f64/);
  assert.throws(() => C.zeros(gpu, [2], "f64"), /f64/);
  assert.throws(
    () => C.add(C.zeros(gpu, [2]), t([2])),
    /add: operands live on different backends \(webgpu, reference\)/,
  );
});
