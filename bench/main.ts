/**
 * `deno task bench`: the performance suite (never asserted in tests: machines here are noisy,
 * so compare ratios from one run). Kernel cases (matmul, conv2d, group norm, attention) and
 * model cases (unet28 forward / train step / divergence, the MLP train step, the toy PF-ODE
 * likelihood) run on every available backend; `--peers` runs the same cases in PyTorch CPU
 * and TensorFlow.js (wasm, WebGPU) in the same invocation and prints our/peer ratios.
 *
 *   deno task bench [--json] [--cases matmul,unet28.forward,…] [--reps N] [--peers [--peer-reps N]]
 *                   [--peer pytorch-cpu|tfjs-wasm|tfjs-webgpu …] (some peers only)
 *                   [--backend all|cpu|webgpu|reference] [--no-autotune] [--spike]
 */

import { parseArgs } from "node:util";
import { type Backend, cpuBackend, referenceBackend, webgpuBackend } from "../compute/mod.ts";
import { runSpike } from "./spike.ts";
import { runKernels } from "./kernels.ts";
import { nllToyFixture, runModels } from "./models.ts";
import type { CaseResult } from "./measure.ts";
import { printSpike } from "./spike_report.ts";
import { type PeerReport, PEERS, runPeers } from "./peers/run_peers.ts";
import { printTable, ratioRows } from "./report.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    json: { type: "boolean", default: false },
    cases: { type: "string" },
    reps: { type: "string", default: "5" },
    "peer-reps": { type: "string" },
    peers: { type: "boolean", default: false },
    peer: { type: "string", multiple: true },
    backend: { type: "string", default: "all" },
    "no-autotune": { type: "boolean", default: false },
    spike: { type: "boolean", default: false },
  },
});

function fail(message: string): never {
  console.error(`bench: ${message}`);
  Deno.exit(2);
}

const reps = Number(values.reps);
if (!Number.isInteger(reps) || reps < 1) {
  fail(`--reps must be a positive integer, got ${values.reps}`);
}
if (!["all", "cpu", "webgpu", "reference"].includes(values.backend!)) {
  fail(`--backend must be all, cpu, webgpu or reference, got ${values.backend}`);
}
const peerReps = Number(values["peer-reps"] ?? reps);
if (!Number.isInteger(peerReps) || peerReps < 1) {
  fail(`--peer-reps must be a positive integer, got ${values["peer-reps"]}`);
}
const wanted = values.cases?.split(",").map((s) => s.trim()).filter(Boolean) ?? [];
/** A case runs when no --cases were given, or one names it or a dotted prefix of it. */
const only = (name: string) =>
  wanted.length === 0 || wanted.some((w) => name === w || name.startsWith(`${w}.`));

const backends: Backend[] = [];
const wants = (name: string) => values.backend === "all" || values.backend === name;
const cpu = wants("cpu") ? cpuBackend() : null;
if (cpu && "error" in cpu) console.error(`bench: no cpu backend: ${cpu.error}`);
else if (cpu) backends.push(cpu);
const gpu = wants("webgpu") ? await webgpuBackend() : null;
if (gpu) {
  if (values["no-autotune"]) gpu.autotune = null;
  backends.push(gpu);
} else if (wants("webgpu")) console.error("bench: no WebGPU adapter found");
if (wants("reference")) backends.push(referenceBackend());

const machine = {
  adapter: gpu ? `${gpu.adapterName}${gpu.software ? " (software)" : ""}` : "none",
  cpus: navigator.hardwareConcurrency,
  deno: Deno.version.deno,
  os: `${Deno.build.os} ${Deno.build.arch}`,
};
const log = (s: string) => console.error(s);
const results: CaseResult[] = [];
const record = (r: CaseResult) => {
  log(`  ${r.name} ${r.backend}: ${r.ms_median.toFixed(1)} ms`);
  results.push(r);
};
for (const be of backends) {
  log(`${be.name}:`);
  await runKernels(be, reps, record, only);
  await runModels(be, reps, record, only);
}
const names = [...new Set(results.map((r) => r.name))];
const chosenPeers = values.peer ?? [];
for (const p of chosenPeers) {
  if (!PEERS.includes(p)) fail(`--peer must be one of ${PEERS.join(", ")}, got ${p}`);
}
const wantPeers = values.peers || chosenPeers.length > 0;
const nllFixture = wantPeers && names.includes("eval_nll.toy")
  ? await writeNllFixture(backends[0])
  : undefined;
const peers: PeerReport[] = wantPeers
  ? await runPeers(names, peerReps, log, chosenPeers.length > 0 ? chosenPeers : PEERS, nllFixture)
  : [];
if (nllFixture) await Deno.remove(nllFixture);
for (const p of peers) {
  for (const r of p.results) {
    // a peer's GFLOP/s uses our nominal count for the same case
    const ours = results.find((o) => o.name === r.name);
    const perMs = ours?.gflops != null ? ours.gflops * ours.ms_median : null;
    results.push({ ...r, gflops: perMs === null ? null : perMs / r.ms_median });
  }
}
const spike = values.spike ? await runSpike(backends, 200, 256, log) : null;

if (values.json) {
  const skipped = peers.filter((p) => p.skipped).map((p) => ({ peer: p.peer, why: p.skipped }));
  console.log(
    JSON.stringify({ machine, results, ratios: ratioRows(results), skipped, spike }, null, 2),
  );
} else {
  console.log(`machine: ${machine.adapter}, ${machine.cpus} CPUs, Deno ${machine.deno}`);
  printTable(results);
  for (const p of peers) if (p.skipped) console.log(`peer ${p.peer} skipped: ${p.skipped}`);
  if (spike) printSpike(spike);
}

/** The likelihood case's problem in a temporary file, for the PyTorch peer. */
async function writeNllFixture(be: Backend): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "eval_nll_toy_", suffix: ".json" });
  await Deno.writeTextFile(path, JSON.stringify(await nllToyFixture(be)));
  return path;
}
