/**
 * Runs the peer implementations of the suite's cases as child processes — PyTorch CPU
 * (`torch_peer.py`, Debian's python3-torch; with scipy it also runs score_sde's likelihood path
 * for `eval_nll.toy`) and TensorFlow.js with its wasm and WebGPU backends (`tfjs_peer.ts`) — and
 * collects their JSON reports. A peer that is missing or fails is reported as skipped, with the
 * reason, never fatal.
 */

import type { CaseResult } from "../measure.ts";
import { STEPS_PER_READ } from "../steps_per_read.ts";

export interface PeerReport {
  peer: string;
  skipped?: string;
  results: CaseResult[];
}

const HERE = new URL(".", import.meta.url).pathname;

/**
 * The peers, each a command line with its own case list and repetitions: every case but the
 * likelihood's, which only PyTorch runs and only given the problem as a fixture file.
 */
function peerCommands(
  names: string[],
  reps: number,
  nllFixture?: string,
): { peer: string; cmd: string[] }[] {
  const shared = names.filter((n) => !n.startsWith("eval_nll."));
  const common = (cases: string[]) => [
    "--cases",
    cases.join(","),
    "--reps",
    String(reps),
    "--steps-per-read",
    JSON.stringify(STEPS_PER_READ),
  ];
  const torchCases = nllFixture && names.includes("eval_nll.toy")
    ? [...shared, "eval_nll.toy"]
    : shared;
  const torch = [python(), `${HERE}torch_peer.py`, ...common(torchCases)];
  if (torchCases.includes("eval_nll.toy")) torch.push("--nll-fixture", nllFixture!);
  const deno = [Deno.execPath(), "run", "--allow-all", `${HERE}tfjs_peer.ts`];
  return [
    { peer: "pytorch-cpu", cmd: torchCases.length > 0 ? torch : [] },
    {
      peer: "tfjs-wasm",
      cmd: shared.length > 0 ? [...deno, "--backend", "wasm", ...common(shared)] : [],
    },
    {
      peer: "tfjs-webgpu",
      cmd: shared.length > 0 ? [...deno, "--backend", "webgpu", ...common(shared)] : [],
    },
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

/** `nllFixture`: a JSON file from models.ts's nllToyFixture, for PyTorch's eval_nll.toy. */
export async function runPeers(
  names: string[],
  reps: number,
  log: (s: string) => void,
  which: string[] = PEERS,
  nllFixture?: string,
): Promise<PeerReport[]> {
  const reports: PeerReport[] = [];
  for (const { peer, cmd } of peerCommands(names, reps, nllFixture)) {
    if (!which.includes(peer) || cmd.length === 0) continue;
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
