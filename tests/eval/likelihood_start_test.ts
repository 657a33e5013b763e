/**
 * Where the likelihood starts for each process and dequantisation (docs/MATH.md §1), as eval-nll's
 * JSON reports it: the process's own t_min (VP and VE 1e-5, sub-VP 1e-2, VDM 0 = γmin), except
 * VDM with uniform dequantisation, which starts at i-DODE's γ = −11.8. `--t-min` overrides.
 */

import assert from "node:assert/strict";
import { encode } from "fast-png";
import { runMain } from "../_helpers/cli.ts";
import { likelihoodTMin } from "../../eval/dequantization.ts";
import { makeSde } from "../../sde/processes.ts";

const OWN_START: Record<string, number> = { vp: 1e-5, subvp: 1e-2, ve: 1e-5, vdm: 0 };
/** γ(t) = −13.3 + 18.3 t = −11.8 */
const VDM_UNIFORM_START = (-11.8 - -13.3) / (5 - -13.3);

function expectedStart(sde: string, dequant: string): number {
  return sde === "vdm" && dequant === "uniform" ? VDM_UNIFORM_START : OWN_START[sde];
}

const dir = await Deno.makeTempDir({ prefix: "t-min-" });
for (let i = 0; i < 3; i++) {
  const data = Uint8Array.from({ length: 4 }, (_, j) => (i * 61 + j * 37 + 11) % 256);
  await Deno.writeFile(
    `${dir}/img${i}.png`,
    encode({ width: 2, height: 2, data, channels: 1, depth: 8 }),
  );
}
const model = `${dir}/gauss.json`;
await Deno.writeTextFile(
  model,
  JSON.stringify({ weights: [1], means: [[0, 0, 0, 0]], stds: [0.5], shape: [1, 2, 2] }),
);

async function reportedStart(sde: string, data: string[], extra: string[] = []) {
  const r = await runMain([
    "eval-nll",
    "--model",
    `gmm:${model}`,
    ...data,
    "--limit",
    "1",
    "--sde",
    sde,
    "--divergence",
    "exact",
    "--backend",
    "reference",
    "--json",
    "--quiet",
    ...extra,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  return { tMin: doc.t_min as number, dequant: doc.dequantization as string };
}

Deno.test("likelihood start: the table for every process and dequantisation", () => {
  for (const sde of ["vp", "subvp", "ve", "vdm"] as const) {
    for (const dequant of ["none", "uniform", "truncated-normal"] as const) {
      const got = likelihoodTMin(makeSde(sde), dequant);
      assert.ok(
        Math.abs(got - expectedStart(sde, dequant)) < 1e-15,
        `${sde} × ${dequant}: ${got}`,
      );
    }
  }
  const vdm = makeSde("vdm") as ReturnType<typeof makeSde> & { gamma(t: number): number };
  assert.ok(Math.abs(vdm.gamma(VDM_UNIFORM_START) - -11.8) < 1e-14);
});

Deno.test("eval-nll reports the start each process × dequantisation uses", async () => {
  const images = ["--data", `images:${dir}`, "--split", "train"];
  const runs: Promise<void>[] = [];
  for (const sde of ["vp", "subvp", "ve", "vdm"]) {
    for (const dequant of ["uniform", "truncated-normal"]) {
      runs.push(
        reportedStart(sde, images, ["--dequant", dequant]).then((r) => {
          assert.equal(r.dequant, dequant);
          assert.ok(
            Math.abs(r.tMin - expectedStart(sde, dequant)) < 1e-15,
            `${sde} × ${dequant}: t_min ${r.tMin}, expected ${expectedStart(sde, dequant)}`,
          );
        }),
      );
    }
  }
  await Promise.all(runs);
  // continuous data: VDM keeps γmin; an explicit --t-min wins over the uniform start
  const continuous = await reportedStart("vdm", ["--data", `gmm:${model}`]);
  assert.deepEqual(continuous, { tMin: 0, dequant: "none" });
  const explicit = await reportedStart("vdm", [...images, "--dequant", "uniform", "--t-min", "0"]);
  assert.equal(explicit.tMin, 0);
});
