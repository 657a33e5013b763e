/**
 * The held-out NLL at the end of a run starts where eval-nll would (docs/MATH.md §1): a VDM model on
 * 8-bit images, uniformly dequantised, starts at i-DODE's γ = −11.8, not at γmin = −13.3.
 */

import assert from "node:assert/strict";
import { encode } from "fast-png";
import { runMain } from "../_helpers/cli.ts";

const dir = await Deno.makeTempDir({ prefix: "heldout-start-" });
await Deno.mkdir(`${dir}/images`);
for (let i = 0; i < 10; i++) {
  const data = Uint8Array.from({ length: 4 }, (_, j) => (i * 61 + j * 37 + 11) % 256);
  await Deno.writeFile(
    `${dir}/images/img${i}.png`,
    encode({ width: 2, height: 2, data, channels: 1, depth: 8 }),
  );
}

Deno.test("train: a VDM model's held-out NLL on uniformly dequantised images starts at γ = −11.8", async () => {
  const r = await runMain([
    "train",
    "--data",
    `images:${dir}/images`,
    "--model",
    "unet",
    "--base",
    "4",
    "--mults",
    "1",
    "--res-blocks",
    "1",
    "--attn",
    "",
    "--groups",
    "2",
    "--sde",
    "vdm",
    "--objective",
    "flow",
    "--steps",
    "2",
    "--batch",
    "4",
    "--eval-examples",
    "1",
    "--backend",
    "reference",
    "--out",
    `${dir}/run`,
    "--json",
    "--quiet",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const { heldout } = JSON.parse(r.stdout);
  assert.equal(heldout.dequantization, "uniform");
  // γ(t) = −13.3 + 18.3 t = −11.8
  const start = (-11.8 - -13.3) / (5 - -13.3);
  assert.ok(Math.abs(heldout.t_min - start) < 1e-15, `held-out t_min ${heldout.t_min}`);
});
