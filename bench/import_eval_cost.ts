/**
 * What bits/dim costs for every imported model family at CIFAR-10 size: one function
 * evaluation (NFE) of the PF-ODE likelihood is the network's forward pass plus one input VJP (a
 * Hutchinson divergence probe), timed per example at a few batch sizes on each backend asked for,
 * with random weights (the cost does not depend on them). A whole solve costs that times its
 * NFE (`--nfe`, default 200; score_sde's likelihood at rtol = atol = 1e-5 on CIFAR-10 typically
 * takes 150–250).
 *
 * The networks: score_sde's DDPM++ (`vp/cifar10_ddpmpp_continuous`) and NCSN++ VE
 * (`ve/cifar10_ncsnpp_continuous`); EDM's CIFAR-10 training configurations DDPM++ cond-VP and
 * NCSN++ uncond-VE (`train.py --arch ddpmpp|ncsnpp`: SongUNet 128·[2,2,2], augment_dim 9, the
 * former with 10 labels under VPPrecond, the latter under VEPrecond); i-DODE's cifar10 VDM U-Net.
 *
 * FLOPs are counted by instrumenting, not from formulas: during one untimed forward pass (and
 * one forward + VJP) at batch 1, the backend's `matmul`, `conv2d`, `conv2dInputGrad` and
 * `conv2dWeightGrad` add up the multiply-adds their geometry asks for (linears and attention's
 * two products; convolutions, including the resampling filters, which run as single-channel
 * convolutions, zeros inserted for upsampling included), two FLOPs per multiply-add; elementwise
 * work (norms, activations, softmax) is not counted. From the evaluation count it projects, for
 * one GPU at an assumed sustained rate, the hours for the 10,000-image CIFAR-10 test set as
 * 10,000 × NFE × (counted FLOPs of one forward + input VJP) / rate: a projection, never a
 * measurement. The input-only VJP needs no weight gradients, so one evaluation counts about
 * 2 × forward (the "GFLOPs / NFE" column), not the 3 × of a training step.
 *
 * `--nets` picks some of score_sde-ddpmpp, score_sde-ncsnpp-ve, edm-ddpmpp-cond-vp,
 * edm-ncsnpp-uncond-ve, idode-cifar10; `--batch` is the cpu backend's batch sizes,
 * `--webgpu-batch` WebGPU's. A WebGPU case whose warm-up and timed runs would take longer than
 * `--case-limit` seconds at `--webgpu-gflops` (lavapipe sustains about 8–15 on these networks)
 * is skipped.
 *
 *   deno run -A bench/import_eval_cost.ts [--nets all|name,…] [--backend cpu|webgpu|all]
 *     [--batch 1,8] [--webgpu-batch 1] [--reps 3] [--webgpu-reps 1] [--nfe 200]
 *     [--case-limit 180] [--webgpu-gflops 8]
 */

import {
  type Backend,
  mul,
  Rng,
  sum,
  type Tensor,
  tensor,
  tidy,
  treeLeaves,
  valueAndGrad,
} from "../compute/mod.ts";
import type { ConvGeometry } from "../compute/backend.ts";
import { cpuBackend, webgpuBackend } from "../compute/select.ts";
import { UsageError } from "../io/errors.ts";
import {
  countParams,
  initNetwork,
  type NetworkConfig,
  networkForward,
  type NetworkParams,
} from "../nn/network.ts";
import { ncsnppConfigOf, SCORE_SDE_CONFIGS } from "../nn/import/score_sde.ts";
import { IDODE_CONFIGS } from "../nn/import/idode.ts";
import { type EdmConfig, type EdmPrecond, SONG_UNET_DEFAULTS } from "../nn/edm/config.ts";
import { vpSigma } from "../nn/edm/precond.ts";
import { measure } from "./measure.ts";

/** One imported network at CIFAR-10 size; `classes` > 0 feeds one-hot labels. */
interface ImportedNetwork {
  name: string;
  what: string;
  config: NetworkConfig;
  classes: number;
}

/**
 * EDM's CIFAR-10 training network (train.py): `ddpmpp` or `ncsnpp` SongUNet with model_channels
 * 128, channel_mult [2, 2, 2], augment_dim 9 (augmentation is on by default) and the SongUNet
 * defaults for the rest; the Fourier embedding's frequencies are N(0, 16²) draws, as its buffer.
 */
function edmCifar10(arch: "ddpmpp" | "ncsnpp", precond: EdmPrecond, classes: number): EdmConfig {
  const ncsnpp = arch === "ncsnpp";
  const noiseChannels = 128 * (ncsnpp ? 2 : 1);
  const u = Rng.fromSeed(2).uniformHost(noiseChannels);
  // Box–Muller on pairs of uniforms
  const freqs = Array.from(
    { length: noiseChannels / 2 },
    (_, i) => 16 * Math.sqrt(-2 * Math.log(1 - u[2 * i])) * Math.cos(2 * Math.PI * u[2 * i + 1]),
  );
  const range = precond.kind === "vp"
    ? { sigmaMin: vpSigma(precond, precond.epsilonT), sigmaMax: vpSigma(precond, 1) }
    : { sigmaMin: 0.02, sigmaMax: 100 }; // VEPrecond's defaults
  return {
    resolution: 32,
    channels: 3,
    ...(classes > 0 ? { classes } : {}),
    precond,
    unet: {
      type: "SongUNet",
      ...SONG_UNET_DEFAULTS,
      modelChannels: 128,
      channelMult: [2, 2, 2],
      augmentDim: 9,
      embeddingType: ncsnpp ? "fourier" : "positional",
      channelMultNoise: ncsnpp ? 2 : 1,
      encoderType: ncsnpp ? "residual" : "standard",
      decoderType: "standard",
      resampleFilter: ncsnpp ? [1, 3, 3, 1] : [1, 1],
      ...(ncsnpp ? { fourierFreqs: freqs } : {}),
    },
    ...range,
  };
}

/** i-DODE's cifar10 configuration as the vdm-unet network its checkpoints import to. */
function idodeCifar10(): NetworkConfig {
  const m = IDODE_CONFIGS.cifar10;
  return {
    kind: "vdm-unet",
    resolution: m.resolution,
    channels: 3,
    nEmbd: m.sm_n_embd,
    nLayer: m.sm_n_layer,
    fourierFeatures: m.with_fourier_features,
    attention: m.with_attention,
    output: m.velocity && m.schedule === "SP" ? "sp-eps" : "raw",
    gammaMin: m.gamma_min,
    gammaMax: m.gamma_max,
  };
}

const VP_PRECOND: EdmPrecond = { kind: "vp", betaD: 19.9, betaMin: 0.1, M: 1000, epsilonT: 1e-5 };

const NETWORKS: ImportedNetwork[] = [
  {
    name: "score_sde-ddpmpp",
    what: "score_sde DDPM++ (vp/cifar10_ddpmpp_continuous)",
    config: {
      kind: "ncsnpp",
      ...ncsnppConfigOf(SCORE_SDE_CONFIGS["vp/cifar10_ddpmpp_continuous"]),
    },
    classes: 0,
  },
  {
    name: "score_sde-ncsnpp-ve",
    what: "score_sde NCSN++ VE (ve/cifar10_ncsnpp_continuous)",
    config: {
      kind: "ncsnpp",
      ...ncsnppConfigOf(SCORE_SDE_CONFIGS["ve/cifar10_ncsnpp_continuous"]),
    },
    classes: 0,
  },
  {
    name: "edm-ddpmpp-cond-vp",
    what: "EDM DDPM++ cond-VP (CIFAR-10 training config)",
    config: { kind: "edm", ...edmCifar10("ddpmpp", VP_PRECOND, 10) },
    classes: 10,
  },
  {
    name: "edm-ncsnpp-uncond-ve",
    what: "EDM NCSN++ uncond-VE (CIFAR-10 training config)",
    config: { kind: "edm", ...edmCifar10("ncsnpp", { kind: "ve" }, 0) },
    classes: 0,
  },
  { name: "idode-cifar10", what: "i-DODE VDM U-Net (cifar10)", config: idodeCifar10(), classes: 0 },
];

// ---- flags

const args = Deno.args;
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const numberFlag = (name: string, fallback: string, ok: (v: number) => boolean) => {
  const v = Number(flag(name, fallback));
  if (!ok(v)) throw new UsageError(`${name}: expected a positive number, found ${flag(name, "")}`);
  return v;
};
const positive = (v: number) => Number.isFinite(v) && v > 0;
const count = (v: number) => Number.isInteger(v) && v > 0;
const batchesFlag = (name: string, fallback: string) =>
  flag(name, fallback).split(",").map((s) => {
    const b = Number(s);
    if (!Number.isInteger(b) || b < 1) {
      throw new UsageError(`${name}: expected batch sizes like 1,8, found "${s}"`);
    }
    return b;
  });

const which = flag("--backend", "all");
if (!["cpu", "webgpu", "all"].includes(which)) {
  throw new UsageError(`--backend: expected cpu, webgpu or all, found "${which}"`);
}
const netsFlag = flag("--nets", "all");
const chosen = netsFlag === "all" ? NETWORKS : netsFlag.split(",").map((n) => {
  const net = NETWORKS.find((x) => x.name === n);
  if (!net) {
    throw new UsageError(
      `--nets: unknown network "${n}" (expected all or some of ${
        NETWORKS.map((x) => x.name).join(", ")
      })`,
    );
  }
  return net;
});
const nfe = numberFlag("--nfe", "200", positive);
const caseLimitS = numberFlag("--case-limit", "180", positive);
const webgpuGflops = numberFlag("--webgpu-gflops", "8", positive);
const plans: { backend: Backend; batches: number[]; reps: number }[] = [];
if (which !== "webgpu") {
  const c = cpuBackend();
  if ("error" in c) throw new UsageError(`--backend cpu: ${c.error}`);
  plans.push({
    backend: c,
    batches: batchesFlag("--batch", "1,8"),
    reps: numberFlag("--reps", "3", count),
  });
}
if (which !== "cpu") {
  const g = await webgpuBackend();
  if (!g) throw new UsageError("--backend webgpu: no WebGPU adapter on this machine");
  plans.push({
    backend: g,
    batches: batchesFlag("--webgpu-batch", "1"),
    reps: numberFlag("--webgpu-reps", "1", count),
  });
}

// ---- counting multiply-adds

/** The multiply-adds a convolution of this geometry (or either adjoint) performs. */
const convMacs = (g: ConvGeometry) => g.n * g.o * g.ho * g.wo * g.c * g.kh * g.kw;

/**
 * Multiply-adds of `run` as the backend's products and convolutions are asked for them: those
 * methods are wrapped on the instance for the call and restored after.
 */
async function countMacs(backend: Backend, run: () => Tensor): Promise<number> {
  let macs = 0;
  const b = backend as unknown as Record<string, (...a: unknown[]) => void>;
  const counters: Record<string, (a: unknown[]) => number> = {
    matmul: (a) => (a[4] as number) * (a[5] as number) * (a[6] as number) * (a[7] as number),
    conv2d: (a) => convMacs(a[2] as ConvGeometry),
    conv2dInputGrad: (a) => convMacs(a[2] as ConvGeometry),
    conv2dWeightGrad: (a) => convMacs(a[2] as ConvGeometry),
  };
  const saved = Object.keys(counters).map((m) => [m, Object.hasOwn(b, m), b[m]] as const);
  for (const [m, , original] of saved) {
    b[m] = (...a: unknown[]) => {
      macs += counters[m](a);
      return original.apply(backend, a);
    };
  }
  try {
    const out = tidy(run);
    await out.read();
    out.dispose();
  } finally {
    for (const [m, own, original] of saved) {
      if (own) b[m] = original;
      else delete b[m];
    }
  }
  return macs;
}

// ---- one network on one backend

/** The inputs of one evaluation at batch b and the function that runs it. */
function evaluation(
  backend: Backend,
  params: NetworkParams,
  net: ImportedNetwork,
  b: number,
  withVjp: boolean,
) {
  const rng = Rng.fromSeed(1);
  const x = rng.normal(backend, [b, 3, 32, 32]), v = rng.normal(backend, [b, 3, 32, 32]);
  const t = tensor(backend, Array.from({ length: b }, (_, i) => 0.1 + 0.8 * i / b), [b]);
  const labels = net.classes > 0
    ? tensor(
      backend,
      Array.from({ length: b * net.classes }, (_, i) =>
        i % net.classes === Math.floor(i / net.classes) % net.classes ? 1 : 0),
      [b, net.classes],
    )
    : undefined;
  const forward = (xi: Tensor) => networkForward(params, net.config, xi, t, { labels });
  const run = withVjp
    ? () => valueAndGrad((xi: Tensor) => sum(mul(forward(xi), v)))(x).grad
    : () => forward(x);
  const dispose = () => {
    for (const z of [x, v, t, labels]) z?.dispose();
  };
  return { run, dispose };
}

const fmt = (v: number, digits: number) =>
  v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const TEST_SET = 10_000, ASSUMED_TFLOPS = [20, 50];

console.log(
  `NFE per solve: ${nfe} (measured reference: score_sde's likelihood at rtol = atol = 1e-5 on CIFAR-10 typically takes 150–250 NFE)`,
);
console.log(
  `GPU hours are a projection, not a measurement: ${TEST_SET} × NFE × (counted FLOPs of a forward + input VJP) / an assumed sustained fp32 rate of ${
    ASSUMED_TFLOPS.join(" or ")
  } TFLOP/s; no GPU was used.`,
);
console.log("");
const header = [
  "network",
  "params (M)",
  "GFLOPs / forward",
  "GFLOPs / NFE (counted)",
  "backend",
  "batch",
  "s per NFE per image",
  `s per image at NFE ${nfe}`,
  "h for 10k images here",
  ...ASSUMED_TFLOPS.map((r) => `projected GPU h, 10k images @ ${r} TFLOP/s`),
];
console.log(`| ${header.join(" | ")} |`);
console.log(`|${header.map(() => "---").join("|")}|`);

for (const net of chosen) {
  let counted: { forward: number; evaluation: number } | null = null;
  for (const plan of plans) {
    const be = plan.backend;
    const params = initNetwork(be, Rng.fromSeed(0), net.config, "f32");
    const paramsM = countParams(params) / 1e6;
    if (!counted) {
      const f = evaluation(be, params, net, 1, false), e = evaluation(be, params, net, 1, true);
      counted = {
        forward: 2 * await countMacs(be, f.run),
        evaluation: 2 * await countMacs(be, e.run),
      };
      f.dispose(), e.dispose();
    }
    const { forward, evaluation: perNfe } = counted;
    const projected = ASSUMED_TFLOPS.map((r) =>
      fmt(TEST_SET * nfe * perNfe / (r * 1e12) / 3600, 1)
    );
    const row = (batch: number, cells: string[]) =>
      console.log(
        `| ${
          [
            net.name,
            fmt(paramsM, 2),
            fmt(forward / 1e9, 2),
            fmt(perNfe / 1e9, 2),
            be.name,
            String(batch),
            ...cells,
            ...projected,
          ].join(" | ")
        } |`,
      );
    for (const b of plan.batches) {
      if (be.name === "webgpu") {
        // a software adapter is slow: estimate the case from the counted work and skip it
        // when the warm-up and the timed runs would overrun the limit
        const estimateS = (1 + plan.reps) * perNfe * b / (webgpuGflops * 1e9);
        if (estimateS > caseLimitS) {
          row(b, [`skipped (≈${fmt(estimateS, 0)} s estimated)`, "—", "—"]);
          continue;
        }
      }
      const e = evaluation(be, params, net, b, true);
      const r = await measure(be, `${net.name}.eval`, perNfe * b, plan.reps, e.run);
      e.dispose();
      const perImage = r.ms_median / b / 1000;
      row(b, [
        fmt(perImage, 3),
        fmt(perImage * nfe, 1),
        fmt(perImage * nfe * TEST_SET / 3600, 0),
      ]);
    }
    for (const p of treeLeaves(params)) p.dispose();
  }
}
