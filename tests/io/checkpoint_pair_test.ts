/**
 * Checkpoint and optimiser state are saved as one unit: whatever step of the save fails (a full
 * disk while writing, a crash between the two renames), `loadCheckpointPair` finds a pair that
 * belongs together, and a failed write leaves no temporary file behind.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { keep, Rng, type Tree, treeLeaves } from "../../compute/mod.ts";
import { initMlp, type MlpConfig } from "../../nn/mlp.ts";
import { diskWriter, type FileWriter } from "../../io/atomic.ts";
import { checkpointMeta, restoreTree } from "../../io/checkpoint.ts";
import {
  loadCheckpointPair,
  type PairToSave,
  readHeader,
  saveCheckpointPair,
} from "../../io/checkpoint_pair.ts";
import { InputError, RuntimeFailure } from "../../io/errors.ts";
import { eachBackend } from "../_helpers/backends.ts";
import type { BackendCase } from "../_helpers/backends.ts";

const MLP: MlpConfig = { dim: 2, hidden: 5, layers: 2, timeFeatures: 4 };
const CONFIG = { model: { kind: "mlp", ...MLP }, lr: 1e-3 };

/** A pair at `step` whose weights and moments are drawn from `seed`. */
async function pair(c: BackendCase, step: number, seed: number): Promise<PairToSave> {
  const params = initMlp(c.backend, Rng.fromSeed(seed), MLP, c.dtype);
  const noise = Rng.fromSeed(seed + 1000);
  const moment = (): Tree => ({
    layers: params.layers.map((l) => ({
      w: keep(noise.normal(c.backend, l.w.shape, c.dtype)),
      b: keep(noise.normal(c.backend, l.b.shape, c.dtype)),
    })),
  });
  return {
    params,
    ema: initMlp(c.backend, Rng.fromSeed(seed + 1), MLP, c.dtype),
    metadata: await checkpointMeta(CONFIG, step),
    state: {
      adamM: moment(),
      adamV: moment(),
      step,
      rng: Rng.fromSeed(seed).state(),
      dataCursor: { epoch: 0, position: step },
    },
  };
}

async function values(tree: Tree): Promise<number[][]> {
  return await Promise.all(treeLeaves(tree).map(async (t) => [...await t.read()]));
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

/** The disk, except that `fails(op, path)` makes an operation fail as a full disk would. */
function failingWriter(fails: (op: string, path: string) => boolean): FileWriter {
  const enospc = () => Promise.reject(new Error("No space left on device (os error 28)"));
  return {
    writeSynced: (p, b) => fails("write", p) ? enospc() : diskWriter.writeSynced(p, b),
    append: (p, t) => fails("append", p) ? enospc() : diskWriter.append(p, t),
    rename: (a, b) => fails("rename", b) ? enospc() : diskWriter.rename(a, b),
  };
}

/** Loads the pair in `dir` and checks it is `expected`'s, bit for bit. */
async function assertPairIs(c: BackendCase, dir: string, expected: PairToSave) {
  const notices: string[] = [];
  const { ckpt, state } = await loadCheckpointPair(dir, c.backend, c.dtype, (l) => notices.push(l));
  assert.equal(ckpt.meta.step, expected.metadata.step);
  assert.equal(state.step, expected.state.step);
  const p = expected.params;
  assert.deepEqual(await values(restoreTree(p, ckpt.params, "params")), await values(p));
  const m = expected.state.adamM;
  assert.deepEqual(await values(restoreTree(m, state.adamM, "adam_m")), await values(m));
  return notices;
}

eachBackend("a crash between the two renames: the next load completes the new pair", async (c) => {
  const dir = await Deno.makeTempDir({ prefix: "pair_" });
  const first = await pair(c, 100, 1), second = await pair(c, 200, 2);
  await saveCheckpointPair(dir, first);
  // the state is renamed into place, then the checkpoint's rename fails
  const stopBetween = failingWriter((op, p) => op === "rename" && p.endsWith("ckpt.safetensors"));
  await assert.rejects(saveCheckpointPair(dir, second, stopBetween), RuntimeFailure);
  assert.equal((await readHeader(join(dir, "state.safetensors")))?.metadata.step, "200");
  assert.equal((await readHeader(join(dir, "ckpt.safetensors")))?.metadata.step, "100");
  const notices = await assertPairIs(c, dir, second);
  assert.match(notices.join("\n"), /completed the interrupted save of step 200/);
  assert.deepEqual(await names(dir), ["ckpt.safetensors", "state.safetensors"]);
});

eachBackend(
  "a full disk while saving: the path is named, no temporary file stays, the previous pair is kept",
  async (c) => {
    const dir = await Deno.makeTempDir({ prefix: "pair_" });
    const first = await pair(c, 100, 3), second = await pair(c, 200, 4);
    await saveCheckpointPair(dir, first);
    for (
      const [what, fails] of [
        ["the state", (op: string, p: string) => op === "write" && p.includes("state.")],
        ["the checkpoint", (op: string, p: string) => op === "write" && p.includes("ckpt.")],
        ["the state's rename", (op: string, p: string) => op === "rename" && p.includes("state.")],
      ] as const
    ) {
      await assert.rejects(saveCheckpointPair(dir, second, failingWriter(fails)), (e: unknown) => {
        assert.ok(e instanceof RuntimeFailure, `${what}: ${e}`);
        assert.match(e.message, /^cannot save the checkpoint of step 200: writing .*\.safetensors/);
        assert.match(e.message, /No space left on device \(os error 28\)/);
        assert.ok(e.message.includes(dir), `${what}: the message names the run directory`);
        return true;
      });
      assert.deepEqual(await names(dir), ["ckpt.safetensors", "state.safetensors"], what);
      await assertPairIs(c, dir, first);
    }
  },
);

Deno.test("a checkpoint and a state of different saves are refused, even at the same step", async () => {
  const c: BackendCase = {
    name: "reference-f64",
    backend: (await import("../../compute/mod.ts")).referenceBackend(),
    dtype: "f64",
  };
  const [a, b] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  await saveCheckpointPair(a, await pair(c, 100, 5));
  await saveCheckpointPair(b, await pair(c, 100, 6));
  await Deno.copyFile(join(b, "state.safetensors"), join(a, "state.safetensors"));
  await assert.rejects(
    loadCheckpointPair(a, c.backend, c.dtype, () => {}),
    (e: unknown) => e instanceof InputError && /come from different saves/.test(e.message),
  );
  const empty = await Deno.makeTempDir();
  await assert.rejects(
    loadCheckpointPair(empty, c.backend, c.dtype, () => {}),
    (e: unknown) => e instanceof InputError && /ckpt\.safetensors: not found/.test(e.message),
  );
});
