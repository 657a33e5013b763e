import assert from "node:assert/strict";
import { configChanges } from "../../train/config_diff.ts";
import { TINY_CONFIG } from "../../train/tiny_run.ts";

Deno.test("configChanges names each changed setting by its flag, old → new", () => {
  const before = JSON.parse(JSON.stringify(TINY_CONFIG));
  const after = {
    ...before,
    adam: { ...before.adam, lr: 0.01 },
    model: { ...before.model, hidden: 8 },
    tMin: 1e-3,
  };
  assert.deepEqual(configChanges(before, after), [
    "--lr 0.001 → 0.01",
    "--hidden 16 → 8",
    "tMin 0.00001 → 0.001",
  ]);
  assert.deepEqual(configChanges(before, before), []);
  assert.deepEqual(configChanges({ mults: [1, 2] }, { mults: [1, 2, 2], lm: null }), [
    "--objective (none) → null",
    "mults [1,2] → [1,2,2]",
  ]);
});
