/** A checkpoint whose weights hold NaN or ±∞ is refused on load, naming the first bad tensor. */

import assert from "node:assert/strict";
import { referenceBackend, tensor } from "../../compute/mod.ts";
import { checkpointMeta, loadCheckpoint, saveCheckpoint } from "../../io/checkpoint.ts";
import { InputError } from "../../io/errors.ts";
import { firstNonFinite } from "../../io/safetensors.ts";
import { runMain } from "../_helpers/cli.ts";

const ref = referenceBackend();

Deno.test("firstNonFinite names the first tensor and index holding NaN or ±∞, in file order", () => {
  const t = (v: number[]) => ({
    dtype: "F64" as const,
    shape: [v.length],
    data: Float64Array.from(v),
  });
  assert.equal(firstNonFinite({ a: t([1, 2]), b: t([0, -3]) }), null);
  assert.deepEqual(firstNonFinite({ a: t([1, 2]), b: t([0, Infinity, NaN]), c: t([NaN]) }), {
    name: "b",
    index: 1,
    value: Infinity,
  });
  const nan = firstNonFinite({
    w: { dtype: "F32", shape: [2], data: Float32Array.from([NaN, 1]) },
  });
  assert.equal(nan?.name, "w");
  assert.ok(Number.isNaN(nan?.value));
});

Deno.test("loadCheckpoint refuses non-finite weights with an InputError naming the tensor; sample exits 3 without a stack", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nonfinite_ckpt_" });
  const params = {
    layer: {
      w: tensor(ref, [0.5, -1, 2, 0.25], [2, 2], "f64"),
      b: tensor(ref, [0, NaN], [2], "f64"),
    },
  };
  const path = await saveCheckpoint(dir, { params, metadata: await checkpointMeta({}, 7) });
  await assert.rejects(
    () => loadCheckpoint(path, ref, "f64"),
    (e: unknown) => {
      assert.ok(e instanceof InputError, String(e));
      assert.match(e.message, /ckpt\.safetensors: tensor "params\.layer\.b" holds NaN at index 1/);
      return true;
    },
  );
  const r = await runMain([
    "sample",
    "--ckpt",
    path,
    "--backend",
    "reference",
    "--quiet",
    "--out",
    `${dir}/x.json`,
  ]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /^error: .*tensor "params\.layer\.b" holds NaN/m);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
  Object.values(params.layer).forEach((v) => v.dispose());
});
