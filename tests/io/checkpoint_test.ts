/**
 * Checkpoints: bit-for-bit round trips of MLP parameter trees and optimiser state, name and
 * shape checks in `restoreTree`, the config hash, and crash safety of the atomic save.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type DType,
  keep,
  referenceBackend,
  Rng,
  type Tensor,
  type Tree,
  treeLeaves,
} from "../../compute/mod.ts";
import { initMlp, type MlpConfig } from "../../nn/mlp.ts";
import { InputError, RuntimeFailure } from "../../io/errors.ts";
import { decodeSafetensors, encodeSafetensors } from "../../io/safetensors.ts";
import {
  checkpointMeta,
  configHash,
  loadCheckpoint,
  loadState,
  restoreTree,
  saveCheckpoint,
  saveState,
} from "../../io/checkpoint.ts";

const be = referenceBackend();
const MLP: MlpConfig = { dim: 2, hidden: 5, layers: 2, timeFeatures: 4 };
const CONFIG = { model: { kind: "mlp", ...MLP }, sde: { kind: "vp" }, optim: { lr: 2e-4 } };

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ckpt_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The raw bytes of every leaf, in order: equal arrays mean bit-identical trees. */
async function bits(tree: Tree): Promise<number[][]> {
  const out: number[][] = [];
  for (const t of treeLeaves(tree)) {
    const d = await t.read();
    out.push(Array.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
  }
  return out;
}

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof InputError, `expected an InputError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  });
}

for (const dtype of ["f32", "f64"] as DType[]) {
  Deno.test(`checkpoint round trip of an MLP is bit-for-bit [${dtype}]`, async () => {
    const params = initMlp(be, Rng.fromSeed(1), MLP, dtype);
    const ema = initMlp(be, Rng.fromSeed(2), MLP, dtype);
    await inTempDir(async (dir) => {
      const path = await saveCheckpoint(dir, {
        params,
        ema,
        metadata: await checkpointMeta(CONFIG, 123),
      });
      assert.equal(path, join(dir, "ckpt.safetensors"));
      const names = Object.keys(decodeSafetensors(await Deno.readFile(path), path).tensors);
      assert.deepEqual(names.filter((n) => n.startsWith("params.")), [
        "params.layers.0.w",
        "params.layers.0.b",
        "params.layers.1.w",
        "params.layers.1.b",
        "params.layers.2.w",
        "params.layers.2.b",
      ]);
      const ckpt = await loadCheckpoint(path, be, dtype);
      assert.equal(ckpt.meta.step, 123);
      assert.equal(ckpt.meta.format, "likelihood-ckpt/1");
      assert.deepEqual(ckpt.config, CONFIG);
      assert.equal(ckpt.meta.config_hash, await configHash(CONFIG));
      const restored = restoreTree(params, ckpt.params, "params", path);
      assert.deepEqual(await bits(restored), await bits(params));
      assert.notDeepEqual(await bits(restored), await bits(ema));
      assert.ok(ckpt.ema);
      assert.deepEqual(await bits(restoreTree(ema, ckpt.ema, "ema", path)), await bits(ema));
    });
  });
}

Deno.test("checkpoint converts dtype on load: f64 → f32 rounds, f32 → f64 is exact", async () => {
  const p64 = initMlp(be, Rng.fromSeed(3), MLP, "f64");
  const p32 = initMlp(be, Rng.fromSeed(3), MLP, "f32");
  await inTempDir(async (dir) => {
    const meta = await checkpointMeta(CONFIG, 1);
    const a = await saveCheckpoint(join(dir, "a"), { params: p64, metadata: meta });
    const b = await saveCheckpoint(join(dir, "b"), { params: p32, metadata: meta });
    const down = restoreTree(p32, (await loadCheckpoint(a, be, "f32")).params, "params");
    for (const [i, t] of treeLeaves(down).entries()) {
      assert.equal(t.dtype, "f32");
      const want = Float32Array.from(await treeLeaves(p64)[i].read());
      assert.deepEqual(Array.from(await t.read()), Array.from(want));
    }
    const ckptB = await loadCheckpoint(b, be, "f64");
    assert.equal(ckptB.ema, undefined);
    const up = restoreTree(p64, ckptB.params, "params");
    for (const [i, t] of treeLeaves(up).entries()) {
      assert.equal(t.dtype, "f64");
      assert.deepEqual(Array.from(await t.read()), Array.from(await treeLeaves(p32)[i].read()));
    }
  });
});

Deno.test("restoreTree names the tensor, expected and found shape; missing and extra names", async () => {
  const small = initMlp(be, Rng.fromSeed(4), MLP, "f64");
  const wide = initMlp(be, Rng.fromSeed(4), { ...MLP, hidden: 6 }, "f64");
  await inTempDir(async (dir) => {
    const path = await saveCheckpoint(dir, {
      params: small,
      ema: small,
      metadata: await checkpointMeta(CONFIG, 7),
    });
    const { params } = await loadCheckpoint(path, be, "f64");
    assert.throws(() => restoreTree(wide, params, "params", path), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.equal(
        e.message,
        `${path}: tensor "params.layers.0.w" has shape [6, 5], expected [6, 6]`,
      );
      return true;
    });
    const deep = { layers: [...small.layers, small.layers[2]] };
    assert.throws(
      () => restoreTree(deep, params, "params", path),
      /missing tensor "params\.layers\.3\.w" \(expected shape \[5, 2\]\)/,
    );
    const shallow = { layers: small.layers.slice(0, 2) };
    assert.throws(
      () => restoreTree(shallow, params, "params", path),
      (e: unknown) =>
        e instanceof InputError &&
        /unexpected tensors not in the model: "params\.layers\.2\.w", "params\.layers\.2\.b"$/
          .test(e.message),
    );
    // Other prefixes in the same map are not "extra" for this one.
    restoreTree(small, { ...params, "ema.layers.0.w": params["params.layers.0.w"] }, "params");
  });
});

Deno.test("configHash is SHA-256 of key-sorted JSON, stable under key order", async () => {
  assert.equal(
    await configHash({}),
    "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", // sha256sum of "{}"
  );
  const a = { b: { d: "e", c: [1, { y: 2, x: 1 }] }, a: 2 };
  const b = { a: 2, b: { c: [1, { x: 1, y: 2 }], d: "e" } };
  // sha256sum of '{"a":2,"b":{"c":[1,{"x":1,"y":2}],"d":"e"}}'
  const known = "0d5d41cf6c7e7d6c8cb89481c46dc0bc7862a7d462c28321df03d1c3e9ab5a55";
  assert.equal(await configHash(a), known);
  assert.equal(await configHash(b), known);
  assert.notEqual(await configHash({ ...b, a: 3 }), known);
  assert.notEqual(await configHash({ ...b, b: { c: [{ x: 1, y: 2 }, 1], d: "e" } }), known);
});

Deno.test("loadCheckpoint rejects a wrong format, a config that does not match its hash, stray names", async () => {
  const params = initMlp(be, Rng.fromSeed(5), MLP, "f32");
  await inTempDir(async (dir) => {
    const path = await saveCheckpoint(dir, { params, metadata: await checkpointMeta(CONFIG, 9) });
    const file = decodeSafetensors(await Deno.readFile(path), path);
    const rewrite = async (meta: Record<string, string>, extra = {}) => {
      await Deno.writeFile(path, encodeSafetensors({ ...file.tensors, ...extra }, meta));
    };
    await rewrite({ ...file.metadata, format: "likelihood-ckpt/0" });
    await rejects(
      loadCheckpoint(path, be, "f32"),
      /"format" is "likelihood-ckpt\/0", expected "likelihood-ckpt\/1"/,
    );
    await rewrite({ ...file.metadata, config: JSON.stringify({ ...CONFIG, optim: { lr: 1 } }) });
    await rejects(
      loadCheckpoint(path, be, "f32"),
      /"config_hash" is "[0-9a-f]{64}", but the stored config hashes to/,
    );
    await rewrite({ ...file.metadata, step: "-1" });
    await rejects(
      loadCheckpoint(path, be, "f32"),
      /metadata "step" must be a non-negative integer, found "-1"/,
    );
    await rewrite({ ...file.metadata, config: "{oops" });
    await rejects(
      loadCheckpoint(path, be, "f32"),
      /metadata "config" must be JSON text, found "\{oops"/,
    );
    const stray = { "optimizer.m": file.tensors["params.layers.0.b"] };
    await rewrite(file.metadata, stray);
    await rejects(loadCheckpoint(path, be, "f32"), /unexpected tensor "optimizer\.m"/);
    await rejects(
      loadCheckpoint(join(dir, "nope.safetensors"), be, "f32"),
      /nope\.safetensors: cannot read/,
    );
  });
});

Deno.test("an interrupted save leaves the previous checkpoint loadable", async () => {
  const first = initMlp(be, Rng.fromSeed(6), MLP, "f64");
  const second = initMlp(be, Rng.fromSeed(7), MLP, "f64");
  await inTempDir(async (dir) => {
    const meta = (step: number) => checkpointMeta(CONFIG, step);
    const path = await saveCheckpoint(dir, { params: first, metadata: await meta(100) });
    const stillFirst = async () => {
      const ckpt = await loadCheckpoint(path, be, "f64");
      assert.equal(ckpt.meta.step, 100);
      assert.deepEqual(await bits(restoreTree(first, ckpt.params, "params")), await bits(first));
    };
    // A rename that fails (the folder turned read-only): the error names the file, the temp
    // file is removed, and the first checkpoint stays. A save that wrote ckpt.safetensors in
    // place would already have clobbered it.
    const rename = Deno.rename;
    (Deno as { rename: typeof Deno.rename }).rename = () => Promise.reject(new Error("refused"));
    try {
      await assert.rejects(
        saveCheckpoint(dir, { params: second, metadata: await meta(200) }),
        (e: unknown) =>
          e instanceof RuntimeFailure && e.message === `cannot write ${path}: refused`,
      );
    } finally {
      (Deno as { rename: typeof Deno.rename }).rename = rename;
    }
    const temps = [];
    for await (const e of Deno.readDir(dir)) {
      if (e.name.startsWith("ckpt.safetensors.tmp-")) temps.push(e.name);
    }
    assert.deepEqual(temps, [], "the failed save's temp file is removed");
    await stillFirst();
    // A crash halfway through writing the temp file (no cleanup runs): garbage beside the
    // checkpoint does not touch it.
    const whole = await Deno.readFile(path);
    await Deno.writeFile(`${path}.tmp-${Deno.pid}-1`, whole.subarray(0, whole.length >> 1));
    await stillFirst();
    // A save that fails while gathering tensors (a device read error) must not touch the file.
    const broken = initMlp(be, Rng.fromSeed(8), MLP, "f64");
    const leaf: Tensor = broken.layers[1].w;
    leaf.read = () => Promise.reject(new Error("device lost"));
    await assert.rejects(
      saveCheckpoint(dir, { params: broken, metadata: await meta(300) }),
      /device lost/,
    );
    await stillFirst();
    // And the next complete save replaces it.
    await saveCheckpoint(dir, { params: second, metadata: await meta(400) });
    assert.equal((await loadCheckpoint(path, be, "f64")).meta.step, 400);
  });
});

Deno.test("keep writes numbered snapshots and prunes all but the newest", async () => {
  const params = initMlp(be, Rng.fromSeed(9), MLP, "f32");
  await inTempDir(async (dir) => {
    for (const step of [5, 10, 999, 1234567]) {
      await saveCheckpoint(dir, { params, metadata: await checkpointMeta(CONFIG, step), keep: 2 });
    }
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), [
      "ckpt-000999.safetensors",
      "ckpt-1234567.safetensors",
      "ckpt.safetensors",
    ]);
    assert.equal(
      (await loadCheckpoint(join(dir, "ckpt-000999.safetensors"), be, "f32")).meta.step,
      999,
    );
    assert.equal(
      (await loadCheckpoint(join(dir, "ckpt.safetensors"), be, "f32")).meta.step,
      1234567,
    );
  });
});

Deno.test("state round trip: Adam moments bit-for-bit, step, RNG stream and data cursor", async () => {
  const params = initMlp(be, Rng.fromSeed(10), MLP, "f64");
  const noise = Rng.fromSeed(11);
  const moment = (): Tree => ({
    layers: params.layers.map((l) => ({
      w: keep(noise.normal(be, l.w.shape, "f64")),
      b: keep(noise.normal(be, l.b.shape, "f64")),
    })),
  });
  const adamM = moment(), adamV = moment();
  const rng = Rng.fromSeed(12).derive("times");
  rng.uniformHost(37); // advance the counter so the state is not trivial
  await inTempDir(async (dir) => {
    const path = await saveState(dir, {
      adamM,
      adamV,
      step: 4321,
      rng: rng.state(),
      dataCursor: { epoch: 2, index: 17 },
      extra: { emaDecay: 0.999 },
    });
    assert.equal(path, join(dir, "state.safetensors"));
    const s = await loadState(path, be, "f64");
    assert.equal(s.step, 4321);
    assert.deepEqual(s.dataCursor, { epoch: 2, index: 17 });
    assert.deepEqual(s.extra, { emaDecay: 0.999 });
    assert.deepEqual(new Rng(s.rng).uniformHost(5), rng.uniformHost(5));
    assert.deepEqual(await bits(restoreTree(params, s.adamM, "adam_m", path)), await bits(adamM));
    assert.deepEqual(await bits(restoreTree(params, s.adamV, "adam_v", path)), await bits(adamV));
    // The state file is not a checkpoint and vice versa.
    await rejects(loadCheckpoint(path, be, "f64"), /unexpected tensor "adam_m\./);
    const file = decodeSafetensors(await Deno.readFile(path), path);
    await Deno.writeFile(
      path,
      encodeSafetensors(file.tensors, { ...file.metadata, rng: '{"key":[1],"counter":0}' }),
    );
    await rejects(
      loadState(path, be, "f64"),
      /metadata "rng" must be \{"key": \[u32, u32\], "counter": n\}/,
    );
  });
});
