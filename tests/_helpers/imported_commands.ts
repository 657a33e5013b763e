/**
 * An imported checkpoint through the commands a researcher runs on it: eval-nll on one image,
 * sample (two, four Euler steps) and density guidance (two), each on the cpu backend with loose
 * tolerances — the plumbing, not the numbers, which the parity tests check.
 */

import assert from "node:assert/strict";
import { encodePng } from "../../io/png.ts";
import { runMain } from "./cli.ts";

/**
 * Ten 8-bit RGB PNGs of `height × width` in `dir/images` (the last is the test split), pixel j
 * of image i being `pixel(i, j)` (HWC order); made once per folder.
 */
export async function pngFolder(
  dir: string,
  height: number,
  width: number,
  pixel: (i: number, j: number) => number = (i, j) => (j * 37 + i * 11) % 256,
): Promise<string> {
  const images = `${dir}/images`;
  if (await Deno.stat(images).catch(() => null)) return images;
  await Deno.mkdir(images, { recursive: true });
  for (let i = 0; i < 10; i++) {
    const hwc = new Uint8Array(height * width * 3).map((_, j) => pixel(i, j));
    await Deno.writeFile(`${images}/${i}.png`, encodePng(hwc, width, height, 3));
  }
  return images;
}

export interface CommandOptions {
  /** extra eval-nll flags (e.g. a later --t-min for a stiff random network) */
  evalFlags?: string[];
  /** extra sample and guidance flags (e.g. --class 3 --cfg 1) */
  modelFlags?: string[];
  /** a name keeping this call's outputs apart from another's in `dir` */
  tag?: string;
}

/** Runs eval-nll, sample and guidance on `ckpt`; returns eval-nll's bits/dim. */
export async function runImportedCommands(
  ckpt: string,
  images: string,
  dir: string,
  shape: number[],
  o: CommandOptions = {},
): Promise<{ bpd: number }> {
  const cpu = ["--json", "--backend", "cpu"], tag = o.tag ?? "run";
  const loose = ["--rtol", "1e-3", "--atol", "1e-3"];
  const nll = await runMain([
    ...["eval-nll", "--ckpt", ckpt, "--data", `images:${images}`, "--split", "test"],
    ...["--limit", "1", ...loose, ...(o.evalFlags ?? []), ...cpu],
  ]);
  assert.equal(nll.code, 0, nll.stderr);
  const report = JSON.parse(nll.stdout);
  assert.ok(Number.isFinite(report.bpd) && report.bpd > 0, nll.stdout);
  const sample = await runMain([
    ...["sample", "--ckpt", ckpt, "--sampler", "euler", "--steps", "4", "--n", "2"],
    ...(o.modelFlags ?? []),
    ...["--out", `${dir}/${tag}_s.npy`, ...cpu],
  ]);
  assert.equal(sample.code, 0, sample.stderr);
  const drawn = JSON.parse(sample.stdout);
  assert.deepEqual([drawn.n, drawn.shape], [2, shape]);
  const guided = await runMain([
    ...["guidance", "--ckpt", ckpt, "--q", "0.3", "--n", "2", "--rtol", "1e-2", "--atol", "1e-2"],
    ...(o.modelFlags ?? []),
    ...["--out", `${dir}/${tag}_g.npy`, ...cpu],
  ]);
  assert.equal(guided.code, 0, guided.stderr);
  const shift = JSON.parse(guided.stdout);
  assert.ok(shift.predicted_shift_nats < 0 && Number.isFinite(shift.realised_shift_nats));
  return { bpd: report.bpd };
}
