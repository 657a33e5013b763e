/**
 * A run saved on one float32 backend resumes on another: cpu → WebGPU and WebGPU → cpu. Each
 * continues from the saved step and lands near the run that never changed backend (bit-exact
 * only within one backend, where train_cli_test checks it).
 */

import assert from "node:assert/strict";
import { runMain } from "../_helpers/cli.ts";
import { cpuOrSkip, gpuOrSkip } from "../_helpers/backends.ts";
import { decodeSafetensors } from "../../io/safetensors.ts";

const tiny = (steps: number, backend: string) => [
  "train",
  "--steps",
  String(steps),
  "--batch",
  "32",
  "--hidden",
  "16",
  "--layers",
  "2",
  "--n-train",
  "256",
  "--eval-examples",
  "4",
  "--backend",
  backend,
  "--quiet",
];

async function weights(file: string): Promise<Float64Array> {
  const { tensors } = decodeSafetensors(await Deno.readFile(file), file);
  const names = Object.keys(tensors).filter((k) => k.startsWith("params.")).sort();
  assert.ok(names.length > 0, `${file} holds no params.*`);
  return Float64Array.from(names.flatMap((k) => Array.from(tensors[k].data)));
}

Deno.test("a run trained on cpu resumes on WebGPU and the reverse", async () => {
  if (!cpuOrSkip() || !(await gpuOrSkip())) return;
  const dir = await Deno.makeTempDir();
  const straight = await runMain([...tiny(20, "cpu"), "--out", `${dir}/straight`]);
  assert.equal(straight.code, 0, straight.stderr);
  const want = await weights(`${dir}/straight/ckpt.safetensors`);
  for (const [first, second] of [["cpu", "webgpu"], ["webgpu", "cpu"]]) {
    const out = `${dir}/${first}-${second}`;
    assert.equal((await runMain([...tiny(10, first), "--out", out])).code, 0);
    const resumed = await runMain([...tiny(20, second), "--out", out, "--resume"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /^trained\s+10 steps \(11–20, resumed from step 10\)/m);
    const got = await weights(`${out}/ckpt.safetensors`);
    assert.equal(got.length, want.length);
    let diff = 0, norm = 0;
    for (let i = 0; i < got.length; i++) {
      diff = Math.max(diff, Math.abs(got[i] - want[i]));
      norm = Math.max(norm, Math.abs(want[i]));
    }
    // 20 Adam steps from float32 rounding differences: far below the weights' own scale
    assert.ok(diff < 1e-3 * norm, `${first} → ${second}: max |Δw| ${diff} of ${norm}`);
  }
});
