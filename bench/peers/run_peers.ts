/**
 * Runs the peer implementations of the suite's cases as child processes — PyTorch CPU
 * (`torch_peer.py`, Debian's python3-torch) and TensorFlow.js with its wasm and WebGPU
 * backends (`tfjs_peer.ts`) — and collects their JSON reports. A peer that is missing or fails
 * is reported as skipped, with the reason, never fatal.
 */

import type { CaseResult } from "../measure.ts";
import { STEPS_PER_READ } from "../steps_per_read.ts";

export interface PeerReport {
  peer: string;
  skipped?: string;
  results: CaseResult[];
}

const HERE = new URL(".", import.meta.url).pathname;

/** The peers, each a command line ending in its own case list and repetitions. */
function peerCommands(cases: string, reps: number): { peer: string; cmd: string[] }[] {
  const common = [
    "--cases",
    cases,
    "--reps",
    String(reps),
    "--steps-per-read",
    JSON.stringify(STEPS_PER_READ),
  ];
  const deno = [Deno.execPath(), "run", "--allow-all", `${HERE}tfjs_peer.ts`];
  return [
    { peer: "pytorch-cpu", cmd: [python(), `${HERE}torch_peer.py`, ...common] },
    { peer: "tfjs-wasm", cmd: [...deno, "--backend", "wasm", ...common] },
    { peer: "tfjs-webgpu", cmd: [...deno, "--backend", "webgpu", ...common] },
  ];
}

/**
 * $PYTHON, else the system interpreter (Debian's python3-torch installs there; a pyenv or venv
 * python3 earlier on PATH would not see it), else whatever python3 is on PATH.
 */
function python(): string {
  const explicit = Deno.env.get("PYTHON");
  if (explicit) return explicit;
  try {
    Deno.statSync("/usr/bin/python3");
    return "/usr/bin/python3";
  } catch {
    return "python3";
  }
}

/** Every peer, by the `backend` name its rows carry. */
export const PEERS = ["pytorch-cpu", "tfjs-wasm", "tfjs-webgpu"];

export async function runPeers(
  names: string[],
  reps: number,
  log: (s: string) => void,
  which: string[] = PEERS,
): Promise<PeerReport[]> {
  const reports: PeerReport[] = [];
  // no peer implements the likelihood case (score_sde's RK45 path would be its peer)
  const shared = names.filter((n) => !n.startsWith("eval_nll."));
  if (shared.length === 0) return [];
  for (const { peer, cmd } of peerCommands(shared.join(","), reps)) {
    if (!which.includes(peer)) continue;
    log(`${peer}:`);
    reports.push(await runPeer(peer, cmd, log));
  }
  return reports;
}

async function runPeer(peer: string, cmd: string[], log: (s: string) => void): Promise<PeerReport> {
  let out;
  try {
    out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
      .output();
  } catch (e) {
    return { peer, skipped: `${cmd[0]} could not start (${(e as Error).message})`, results: [] };
  }
  const stderr = new TextDecoder().decode(out.stderr).trim();
  for (const line of stderr.split("\n").filter(Boolean).slice(-40)) log(`  ${line}`);
  if (!out.success) {
    return {
      peer,
      skipped: `exited with code ${out.code}: ${stderr.split("\n").at(-1)}`,
      results: [],
    };
  }
  try {
    const report = JSON.parse(new TextDecoder().decode(out.stdout)) as PeerReport;
    return { peer, skipped: report.skipped, results: report.results ?? [] };
  } catch {
    return { peer, skipped: "printed no JSON report", results: [] };
  }
}
