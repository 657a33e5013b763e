/**
 * `--backend auto|cpu|webgpu|reference`: what auto takes on this machine and what it says, and
 * the cpu backend's failures when its BLAS library cannot be loaded (exit 2 with the install
 * line for `--backend cpu`, one line and a fallback for `auto`).
 */

import assert from "node:assert/strict";
import { selectBackend, webgpuBackend } from "../../compute/mod.ts";
import { cpuOrSkip } from "../_helpers/backends.ts";
import { MAIN, runDeno, runMain } from "../_helpers/cli.ts";

const out = `${await Deno.makeTempDir()}/samples.npy`;
const sample = (...more: string[]) => [
  "sample",
  "--model",
  "gmm:fixtures/mix2d.json",
  "--n",
  "4",
  "--sampler",
  "em",
  "--steps",
  "4",
  "--out",
  out,
  ...more,
];

Deno.test("auto takes the cpu backend before a software WebGPU adapter, and says so", async () => {
  const cpu = cpuOrSkip();
  if (!cpu) return;
  const gpu = await webgpuBackend();
  const lines: string[] = [];
  const chosen = await selectBackend("auto", (l) => lines.push(l));
  if (gpu && !gpu.software) {
    assert.equal(chosen, gpu, "a hardware GPU comes first");
    return;
  }
  assert.equal(chosen, cpu);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^backend: cpu, OpenBLAS \S+ kernels, \d+ threads \(/);
  assert.equal(await selectBackend("cpu"), cpu, "--backend cpu is the same backend");
});

Deno.test("--backend cpu without its library exits 2 naming the library and how to install it", async () => {
  const r = await runMain(sample("--backend", "cpu"), {
    LIKELIHOOD_BLAS: "/nonexistent/libopenblas.so.0",
  });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--backend cpu: no OpenBLAS library could be loaded/);
  assert.match(r.stderr, /\/nonexistent\/libopenblas\.so\.0/);
  assert.match(r.stderr, /install it: apt-get install libopenblas0-pthread/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
});

Deno.test("--backend cpu without --allow-ffi exits 2 and names the flag", async () => {
  const r = await runDeno([
    ...MAIN.filter((a) => a !== "--allow-ffi"),
    ...sample("--backend", "cpu"),
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--backend cpu: loading BLAS needs --allow-ffi/);
});

Deno.test("auto without the library falls back with one line that says why", async () => {
  const r = await runMain(
    sample("--json"),
    { LIKELIHOOD_BLAS: "/nonexistent/libopenblas.so.0" },
  );
  assert.equal(r.code, 0, r.stderr);
  const backendLines = r.stderr.split("\n").filter((l) => l.startsWith("backend: "));
  assert.equal(backendLines.length, 1, r.stderr);
  assert.match(backendLines[0], /cpu backend unavailable: no OpenBLAS library could be loaded/);
  assert.notEqual(JSON.parse(r.stdout).backend, "cpu");
});

Deno.test("loading BLAS sets OPENBLAS_THREAD_TIMEOUT=4 (idle threads sleep) unless it is set", async () => {
  const code = `import { loadBlas } from "./compute/cpu/blas.ts"; loadBlas();` +
    `console.log(Deno.env.get("OPENBLAS_THREAD_TIMEOUT"));`;
  const args = ["eval", "--ext=ts", code];
  const saved = Deno.env.get("OPENBLAS_THREAD_TIMEOUT");
  Deno.env.delete("OPENBLAS_THREAD_TIMEOUT"); // the child inherits this process's environment
  try {
    const unset = await runDeno(args);
    assert.equal(unset.code, 0, unset.stderr);
    assert.equal(unset.stdout.trim(), "4");
    const chosen = await runDeno(args, { OPENBLAS_THREAD_TIMEOUT: "26" });
    assert.equal(chosen.stdout.trim(), "26", chosen.stderr);
  } finally {
    if (saved !== undefined) Deno.env.set("OPENBLAS_THREAD_TIMEOUT", saved);
  }
});
