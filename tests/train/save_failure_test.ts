/**
 * A run whose save fails (a full disk) stops with one line naming the file, leaves no temporary
 * file and no lock, and keeps metrics.jsonl at the last checkpoint's step; `--resume` drops the
 * metrics lines past the checkpoint that an earlier crash left.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { referenceBackend } from "../../compute/mod.ts";
import { diskWriter, type FileWriter } from "../../io/atomic.ts";
import { loadCheckpointPair } from "../../io/checkpoint_pair.ts";
import { exitCodeOf, formatError, RuntimeFailure } from "../../io/errors.ts";
import { type RunOptions, runTraining } from "../../cli/train_run.ts";
import { TINY_CONFIG } from "../../train/tiny_run.ts";
import { MetricsLog } from "../../train/metrics_log.ts";
import { ROOT } from "../_helpers/cli.ts";

const options = (out: string): RunOptions => ({
  steps: 20,
  out,
  resume: false,
  backend: "reference",
  logEvery: 5,
  ckptEvery: 10,
  keep: 0,
  maxBadSteps: 3,
  evalExamples: 2,
  gridSamples: 0,
  gridSteps: 1,
  json: false,
  quiet: true,
});

const stepsIn = async (path: string) =>
  (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l).step);

Deno.test("a full disk at the second checkpoint: one line naming the file, no temporary file, no lock, no metrics past the first checkpoint", async () => {
  const out = await Deno.makeTempDir({ prefix: "full_disk_" });
  let checkpoints = 0;
  const fullAfterOne: FileWriter = {
    ...diskWriter,
    writeSynced: (path, bytes) => {
      if (path.includes("ckpt.safetensors") && ++checkpoints > 1) {
        return Promise.reject(new Error("No space left on device (os error 28)"));
      }
      return diskWriter.writeSynced(path, bytes);
    },
  };
  const config = { ...TINY_CONFIG, data: `gmm:${ROOT}fixtures/mix2c.json` };
  const failure = await runTraining(config, { ...options(out), writer: fullAfterOne }).then(
    () => null,
    (e) => e,
  );
  assert.ok(failure instanceof RuntimeFailure, `expected a RuntimeFailure, got ${failure}`);
  assert.match(failure.message, /ckpt\.safetensors failed \(No space left on device/);
  assert.equal(formatError(failure), `error: ${failure.message}`, "one line, no stack");
  assert.equal(exitCodeOf(failure), 1);
  const names: string[] = [];
  for await (const e of Deno.readDir(out)) names.push(e.name);
  assert.deepEqual(names.sort(), ["ckpt.safetensors", "metrics.jsonl", "state.safetensors"]);
  assert.deepEqual(await stepsIn(join(out, "metrics.jsonl")), [5, 10]);
  const { ckpt, state } = await loadCheckpointPair(out, referenceBackend(), "f32", () => {});
  assert.deepEqual([ckpt.meta.step, state.step], [10, 10]);
});

Deno.test("MetricsLog: lines wait for the checkpoint that covers them; a failed append leaves the file as it was", async () => {
  const path = join(await Deno.makeTempDir(), "metrics.jsonl");
  let full = false;
  const writer: FileWriter = {
    ...diskWriter,
    append: async (p, text) => {
      if (!full) return await diskWriter.append(p, text);
      await diskWriter.append(p, text.slice(0, 7)); // a torn write, then the error
      throw new Error("No space left on device (os error 28)");
    },
  };
  const log = await MetricsLog.open(path, null, () => {}, writer);
  for (const step of [5, 10, 15]) log.record({ step, loss: step / 10, lr: 1e-3 });
  await log.commit(10);
  assert.deepEqual(await stepsIn(path), [5, 10]);
  log.record({ step: 20, loss: 2, lr: 1e-3 });
  full = true;
  await assert.rejects(log.commit(20), /cannot write .*metrics\.jsonl: No space left/);
  assert.deepEqual(await stepsIn(path), [5, 10]);
  full = false;
  await log.commit(20);
  assert.deepEqual(await stepsIn(path), [5, 10, 15, 20]);
  assert.deepEqual(log.history.map((m) => m.step), [5, 10, 15, 20]);
});

Deno.test("MetricsLog on --resume keeps the lines up to the checkpoint's step and drops later and torn ones", async () => {
  const path = join(await Deno.makeTempDir(), "metrics.jsonl");
  const line = (step: number) => JSON.stringify({ step, loss: step, lr: 0.1 }) + "\n";
  await Deno.writeTextFile(path, [5, 10, 15, 20].map(line).join("") + '{"step": 2');
  const notices: string[] = [];
  const log = await MetricsLog.open(path, 10, (l) => notices.push(l));
  assert.deepEqual(log.history.map((m) => m.step), [5, 10]);
  assert.equal(await Deno.readTextFile(path), line(5) + line(10));
  assert.match(
    notices.join("\n"),
    /dropped 3 line\(s\) of .*metrics\.jsonl past the checkpoint's step 10/,
  );
});
