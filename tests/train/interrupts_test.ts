/**
 * The Ctrl-C protocol between the watcher thread and the run (train/interrupts.ts), driven by
 * hand: the step a signal names is the step the run stops after, whenever the signal comes;
 * further signals during the save only say so; before training and during the final
 * evaluation a signal asks for an exit.
 */

import assert from "node:assert/strict";
import { onInterrupt, RunInterrupts } from "../../train/interrupts.ts";

/** A run's side and a signal source sharing one buffer, as the watcher thread would. */
function wired() {
  const run = RunInterrupts.inert();
  const signal = () => onInterrupt(new Int32Array(run.buffer));
  return { run, signal };
}

Deno.test("a Ctrl-C during a step stops the run after that step, which its message names", () => {
  const { run, signal } = wired();
  run.enter("training", 1);
  assert.equal(run.stopBefore(1), false);
  assert.equal(run.stopBefore(2), false);
  // step 2 is in progress
  assert.deepEqual(signal(), { line: "interrupt: finishing step 2, saving…", exit: false });
  assert.ok(run.stopRequested);
  assert.equal(run.stopBefore(3), true, "no step after the one named");
  run.enter("saving", 2);
  assert.deepEqual(signal(), {
    line: "interrupt: the save of step 2 is in progress; please wait",
    exit: false,
  });
  run.enter("stopped", 2);
  assert.match(signal().line, /already stopping; the checkpoint of step 2 is saved/);
});

Deno.test("a Ctrl-C between two steps names the finished one, and the run takes no other", () => {
  const { run, signal } = wired();
  run.enter("training", 1);
  assert.equal(run.stopBefore(1), false);
  // step 1 finished; the signal comes before the run publishes step 2
  assert.match(signal().line, /finishing step 1,/);
  assert.equal(run.stopBefore(2), true);
});

Deno.test("a Ctrl-C during a periodic save stops after it; one before training or during the evaluation asks to exit", () => {
  const { run, signal } = wired();
  run.enter("training", 1);
  assert.equal(run.stopBefore(10), false);
  run.enter("saving", 10);
  assert.deepEqual(signal(), { line: "interrupt: finishing step 10, saving…", exit: false });
  run.enter("training", 11);
  assert.equal(run.stopBefore(11), true);

  const before = wired();
  before.run.enter("setup", 0);
  assert.deepEqual(before.signal(), {
    line: "interrupt: stopping before the first step; nothing to save",
    exit: true,
  });
  const during = wired();
  during.run.enter("evaluating", 400);
  const { line, exit } = during.signal();
  assert.ok(exit);
  assert.match(line, /checkpoint of step 400 is saved \(run the same command with --resume/);
});
