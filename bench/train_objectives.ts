/**
 * Held-out NLL gap to the data entropy after growing step counts, per objective, on the toy
 * mixture (the issue tracker's comparison of ScoreFlow and i-DODE claims). Each stage resumes
 * the previous run and ends with the train command's own held-out evaluation.
 *
 *   deno run -A bench/train_objectives.ts [--stages 1000,2000,4000] [--eval 200] [--backend webgpu]
 */

import { parseArgs } from "node:util";

const { values: f } = parseArgs({
  args: Deno.args,
  options: {
    stages: { type: "string", default: "2000,4000,8000" },
    eval: { type: "string", default: "300" },
    backend: { type: "string", default: "auto" },
  },
});
const stages = f.stages!.split(",").map(Number);
const root = new URL("..", import.meta.url).pathname;
const runs: [string, string[]][] = [
  ["dsm simple (uniform t)", [
    "--objective",
    "dsm",
    "--weighting",
    "simple",
    "--time-sampling",
    "uniform",
  ]],
  ["dsm likelihood + importance", [
    "--objective",
    "dsm",
    "--weighting",
    "likelihood",
    "--time-sampling",
    "importance",
  ]],
  ["flow (i-DODE velocity)", ["--objective", "flow"]],
];

async function train(args: string[]): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "main.ts",
      "train",
      ...args,
      "--json",
      "--quiet",
    ],
    cwd: root,
  }).output();
  if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const dir = await Deno.makeTempDir({ prefix: "bench-train-" });
console.log(
  `| objective | ${stages.map((s) => `gap after ${s} steps (nats)`).join(" | ")} | steps/s |`,
);
console.log(`|---|${stages.map(() => "---").join("|")}|---|`);
const common = ["--eval-examples", f.eval!, "--backend", f.backend!];
for (
  const [name, args] of [...runs, ["flow + high-order 0.1 fine-tune", []] as [string, string[]]]
) {
  const out = `${dir}/${name.replace(/\W+/g, "_")}`;
  const cells: string[] = [];
  let rate = 0;
  for (const [i, steps] of stages.entries()) {
    let s: Record<string, unknown>;
    if (name.startsWith("flow + high-order")) {
      // fine-tune from the flow run's checkpoint at this stage for a quarter of its steps
      const base = `${dir}/${runs[2][0].replace(/\W+/g, "_")}-at-${steps}`;
      s = await train([
        "--objective",
        "flow",
        "--high-order",
        "0.1",
        "--init",
        `${base}/ckpt.safetensors`,
        "--steps",
        String(steps / 4),
        "--out",
        `${out}-${steps}`,
        ...common,
      ]);
    } else {
      s = await train([
        ...args,
        "--steps",
        String(steps),
        "--out",
        out,
        ...(i > 0 ? ["--resume"] : []),
        ...common,
      ]);
      await Deno.mkdir(`${out}-at-${steps}`, { recursive: true });
      await Deno.copyFile(`${out}/ckpt.safetensors`, `${out}-at-${steps}/ckpt.safetensors`);
    }
    const h = s.heldout as { nll_nats: number; nll_stderr: number };
    cells.push(
      `${(h.nll_nats - (s.data_entropy_nats as number)).toFixed(3)} ± ${h.nll_stderr.toFixed(3)}`,
    );
    rate = s.steps_per_second as number;
  }
  console.log(`| ${name} | ${cells.join(" | ")} | ${rate.toFixed(1)} |`);
}
