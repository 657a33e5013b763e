/**
 * Ctrl-C on a real `train` process: acknowledged at once, the run stops after the step it names
 * (even with no loss readback for a million steps), a second Ctrl-C waits for the save, and
 * the pair on disk loads as `--resume` loads it; a Ctrl-C during the final evaluation leaves a
 * run that `--resume` finishes by evaluating only.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { referenceBackend } from "../../compute/mod.ts";
import { loadCheckpointPair } from "../../io/checkpoint_pair.ts";
import { MAIN, ROOT, runMain } from "../_helpers/cli.ts";

const base = ["train", "--n-train", "256", "--backend", "reference"];
const tiny = [...base, "--batch", "32", "--hidden", "16", "--layers", "2"];

/** A `train` process whose stderr is collected as it comes. */
function spawnTrain(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...MAIN, ...base, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const reading = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) stderr += dec.decode(chunk, { stream: true });
  })();
  const stdout = new Response(child.stdout).text();
  /** Resolves when `path` exists; rejects after `ms`. */
  const waitForFile = async (path: string, ms: number): Promise<void> => {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      if (await Deno.stat(path).then(() => true, () => false)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no ${path} within ${ms} ms; stderr holds:\n${stderr}`);
  };
  /** Resolves when stderr matches `pattern`; rejects after `ms`. */
  const waitFor = async (pattern: RegExp, ms: number): Promise<RegExpMatchArray> => {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      const m = stderr.match(pattern);
      if (m) return m;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`no ${pattern} on stderr within ${ms} ms; it holds:\n${stderr}`);
  };
  /** The exit status, or a SIGKILL and a failure after `ms`. */
  const exit = async (ms: number) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    const status = await child.status;
    clearTimeout(timer);
    await reading;
    await stdout;
    return status;
  };
  return { child, waitFor, waitForFile, exit, stderr: () => stderr };
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("Ctrl-C: acknowledged at once, stops after the step it names, a second Ctrl-C waits for the save; a second run on the --out is refused meanwhile", async () => {
  const dir = await Deno.makeTempDir({ prefix: "interrupt_" });
  // no loss readback for a million steps; a 2 M-parameter MLP at batch 1 takes about half a
  // second a step and a quarter of one to save (16 MB twice), long enough for a second Ctrl-C
  // to land while the run stops; a checkpoint every step shows that training runs
  const never = [
    ...["--hidden", "1000", "--layers", "3", "--batch", "1"],
    ...["--log-every", "1000000", "--ckpt-every", "1", "--eval-examples", "2"],
  ];
  const run = spawnTrain([...never, "--steps", "1000000", "--out", dir]);
  await run.waitForFile(join(dir, "ckpt.safetensors"), 60_000);

  const second = await runMain([...base, ...never, "--steps", "5", "--out", dir, "--quiet"]);
  assert.equal(second.code, 1, second.stderr);
  assert.match(
    second.stderr,
    new RegExp(`^error: ${join(dir, "train.lock")} is held by pid ${run.child.pid}`),
  );

  const sent = performance.now();
  run.child.kill("SIGINT");
  const ack = await run.waitFor(/interrupt: finishing step (\d+), saving…/, 10_000);
  const ackMs = performance.now() - sent;
  run.child.kill("SIGINT");
  const status = await run.exit(30_000);
  const stderr = run.stderr();
  assert.equal(status.signal, null, `killed by ${status.signal}:\n${stderr}`);
  assert.equal(status.code, 130, stderr);
  // the watcher thread answers while the main thread computes a step (typically in a few ms)
  assert.ok(ackMs < 5000, `acknowledged after ${ackMs.toFixed(0)} ms`);
  const step = Number(ack[1]);
  assert.match(
    stderr,
    /interrupt: (the save of step \d+ is in progress; please wait|already stopping)/,
    "the second Ctrl-C is deferred",
  );
  assert.match(stderr, new RegExp(`interrupted at step ${step}; checkpoint saved in `));
  const { ckpt, state } = await loadCheckpointPair(dir, referenceBackend(), "f32", () => {});
  // a pair that belongs together, as --resume loads it
  assert.deepEqual([ckpt.meta.step, state.step], [step, step], "stopped after the named step");
  assert.deepEqual(await names(dir), ["ckpt.safetensors", "state.safetensors"], "lock released");
});

Deno.test("Ctrl-C during the final evaluation: exit 130 with the steps saved; --resume then only evaluates", async () => {
  const dir = await Deno.makeTempDir({ prefix: "interrupt_" });
  const args = ["--steps", "10", "--log-every", "5", "--out", dir];
  // 64 examples make one evaluation batch of about a second; the loss plot is written just
  // before it starts
  const run = spawnTrain([...tiny.slice(base.length), ...args, "--eval-examples", "64"]);
  await run.waitForFile(join(dir, "loss.svg"), 60_000);
  run.child.kill("SIGINT");
  const status = await run.exit(60_000);
  assert.equal(status.code, 130, run.stderr());
  assert.equal(status.signal, null, run.stderr());
  // (a signal that beats the evaluation's start by microseconds reads as a stop after step 10)
  assert.match(
    run.stderr(),
    /interrupt: (stopping the final evaluation; the checkpoint of step 10|finishing step 10)/,
  );
  assert.deepEqual(await names(dir), [
    "ckpt.safetensors",
    "loss.svg",
    "metrics.jsonl",
    "state.safetensors",
  ]);

  const finished = await runMain([...tiny, ...args, "--eval-examples", "2", "--resume"]);
  assert.equal(finished.code, 0, finished.stderr);
  assert.match(
    finished.stdout,
    /trained\s+no new steps \(the run was at step 10; final evaluation only\)/,
  );
  const report = JSON.parse(await Deno.readTextFile(join(dir, "eval.json")));
  assert.deepEqual([report.steps, report.steps_this_run, report.heldout.n], [10, 0, 2]);
  assert.equal(
    report.final_loss,
    JSON.parse((await Deno.readTextFile(join(dir, "metrics.jsonl"))).trim().split("\n")[1]).loss,
  );

  const again = await runMain([...tiny, ...args, "--eval-examples", "2", "--resume", "--quiet"]);
  assert.equal(again.code, 2, again.stderr);
  assert.match(again.stderr, /already at step 10 and evaluated; pass a larger --steps/);
});
