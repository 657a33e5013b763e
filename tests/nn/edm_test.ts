/**
 * EDM's networks as nn/edm/ evaluates them, on tiny snapshots built and pickled by the original
 * code (fixtures/gen/edm_nets.py): the parameter names and shapes derived from each snapshot's
 * kwargs are its state dict's, in order, and every backend gives the original denoiser
 * D(x; σ) and the U-Net's own output F (D = c_skip x + c_out F, where c_skip x dominates at
 * small σ) on the recorded inputs — for DDPM++ under EDMPrecond (with labels, a zero row, no
 * labels at all, one class for all), NCSN++ under VEPrecond, the skip encoder under VPPrecond
 * and ADM under EDMPrecond — plus a two-head attention block.
 */

import assert from "node:assert/strict";
import {
  type Backend,
  mul,
  referenceBackend,
  type Tensor,
  tensor,
  tensorWithHostCopy,
} from "../../compute/mod.ts";
import { flattenTensors, readTorchFile } from "../../io/torch_file.ts";
import {
  type EdmConfig,
  edmForward,
  type EdmParams,
  edmShapes,
  noiseEmbeddingOf,
} from "../../nn/edm/edm.ts";
import { embedOnHost } from "../../nn/edm/embedding.ts";
import { precondOnHost } from "../../nn/edm/precond.ts";
import { songUnetForward } from "../../nn/edm/song_unet.ts";
import { dhariwalUnetForward } from "../../nn/edm/dhariwal_unet.ts";
import { unetBlock } from "../../nn/edm/unet_block.ts";
import { edmSnapshot } from "../../nn/import/edm.ts";
import { eachBackend } from "../_helpers/backends.ts";
import { tol } from "../_helpers/tolerances.ts";

const DIR = new URL("../../fixtures/edm/", import.meta.url).pathname;
const doc = JSON.parse(await Deno.readTextFile(`${DIR}edm_nets.json`));
const NETS = Object.keys(doc.nets);

type Values = { shape: number[]; values: number[] };

const roots = new Map(
  await Promise.all(NETS.map(async (name) => {
    const file = `${DIR}${doc.nets[name].file}`;
    return [name, readTorchFile(await Deno.readFile(file), file)] as const;
  })),
);
const snapshots = new Map(NETS.map((n) => [n, edmSnapshot(roots.get(n)!, doc.nets[n].file)]));

/** max |actual − expected| / max |expected| */
function relativeError(actual: ArrayLike<number>, expected: number[]): number {
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
  }
  return worst;
}

/** The process time of each σ: σ(t) = σ_min (σ_max/σ_min)^t. */
const timesOf = (c: EdmConfig, sigma: number[]) =>
  Float64Array.from(sigma, (s) => Math.log(s / c.sigmaMin) / Math.log(c.sigmaMax / c.sigmaMin));

function oneHot(rows: (number | null)[], classes: number): number[] {
  const out = new Array(rows.length * classes).fill(0);
  rows.forEach((k, i) => {
    if (k !== null) out[i * classes + k] = 1;
  });
  return out;
}

Deno.test("edm: the derived names and shapes are each snapshot's state dict, in order", () => {
  for (const name of NETS) {
    const ema = (roots.get(name) as Map<string, never>).get("ema")!;
    const found = [...flattenTensors(ema)]
      .filter(([k]) => !k.endsWith(".resample_filter") && k !== "model.map_noise.freqs")
      .map(([k, t]) => `${k} [${t.shape}]`);
    const derived = [...edmShapes(snapshots.get(name)!.config)].map(([k, s]) => `${k} [${s}]`);
    assert.deepEqual(derived, found, name);
  }
});

function paramsOn(c: { backend: Backend; dtype: "f32" | "f64" }, name: string): EdmParams {
  const p: EdmParams = {};
  for (const [k, w] of snapshots.get(name)!.params) {
    p[k] = tensor(c.backend, w.data, w.shape, c.dtype);
  }
  return p;
}

/** The U-Net's output F alone, as the precond calls it. */
function unetOutput(
  p: EdmParams,
  config: EdmConfig,
  x: Tensor,
  times: Float64Array,
  labels?: Tensor,
) {
  const k = precondOnHost(config, times, x);
  const noise = embedOnHost(noiseEmbeddingOf(config), k.cNoise, x), u = config.unet;
  return u.type === "SongUNet"
    ? songUnetForward(p, config, u, mul(x, k.cIn), noise, labels ?? null)
    : dhariwalUnetForward(p, config, u, mul(x, k.cIn), noise, labels ?? null);
}

eachBackend("edm: each snapshot's D(x; σ) is the original's on the recorded inputs", async (c) => {
  for (const name of NETS) {
    const net = doc.nets[name], config = snapshots.get(name)!.config;
    const p = paramsOn(c, name);
    const x = tensor(c.backend, net.x.values, net.x.shape, c.dtype);
    const times = timesOf(config, net.sigma);
    const t = tensorWithHostCopy(c.backend, times, [times.length], c.dtype);
    const cases: [string, Values, number[] | null][] = [["D", net.D, null]];
    if (config.classes) {
      cases[0][2] = oneHot(net.labels, config.classes);
      cases.push(["D_no_labels", net.D_no_labels, null]);
      cases.push(["D_class5", net.D_class5, oneHot(net.labels.map(() => 5), config.classes)]);
    }
    for (const [what, want, labels] of cases) {
      const y = labels
        ? tensor(c.backend, labels, [net.labels.length, config.classes!], c.dtype)
        : undefined;
      const out = edmForward(p, config, x, t, y);
      assert.deepEqual(out.shape, want.shape);
      const err = relativeError(await out.read(), want.values);
      console.log(`${c.name} ${name} ${what}: max error / max |D| = ${err.toExponential(2)}`);
      assert.ok(err <= tol.importedNetwork.atol, `${name} ${what}: ${err}`);
      if (what !== "D") continue;
      const f = unetOutput(p, config, x, times, y);
      const errF = relativeError(await f.read(), net.F.values);
      console.log(`${c.name} ${name} F: max error / max |F| = ${errF.toExponential(2)}`);
      assert.ok(errF <= tol.importedNetwork.atol, `${name} F: ${errF}`);
    }
    for (const v of Object.values(p)) v.dispose();
  }
});

Deno.test("edm: times on the device (no host copy) give the host path's D", async () => {
  const be = referenceBackend();
  for (const name of ["ddpmpp_edm_cond", "adm_edm"]) {
    const net = doc.nets[name], config = snapshots.get(name)!.config;
    const p = paramsOn({ backend: be, dtype: "f64" }, name);
    const x = tensor(be, net.x.values, net.x.shape, "f64");
    const times = timesOf(config, net.sigma);
    const out = edmForward(p, config, x, tensor(be, times, [times.length], "f64"));
    const want = config.classes ? net.D_no_labels : net.D;
    const err = relativeError(await out.read(), want.values);
    assert.ok(err <= tol.importedNetwork.atol, `${name}: ${err}`);
  }
});

eachBackend("edm: a two-head attention block is the original UNetBlock", async (c) => {
  const b = doc.two_head_block;
  const p: EdmParams = {};
  for (const [k, v] of Object.entries(b.state as Record<string, Values>)) {
    p[`blk.${k}`] = tensor(c.backend, v.values, v.shape, c.dtype);
  }
  const spec = {
    inC: 8,
    outC: 8,
    embC: 12,
    up: false,
    down: false,
    heads: 2,
    skipScale: 1,
    eps: 1e-5,
    filter: [1, 1],
    resampleProj: false,
    adaptiveScale: true,
  };
  const out = unetBlock(
    p,
    "blk",
    spec,
    tensor(c.backend, b.x.values, b.x.shape, c.dtype),
    tensor(c.backend, b.emb.values, b.emb.shape, c.dtype),
  );
  const err = relativeError(await out.read(), b.out.values);
  assert.ok(err <= tol.importedNetwork.atol, `${err}`);
});
