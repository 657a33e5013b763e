/** Resolves a `sample` invocation into a model and sampler, runs it in batches, and reports. */

import { type DType, Rng } from "../compute/mod.ts";
import { UsageError } from "../io/errors.ts";
import { Progress } from "../io/progress.ts";
import { checkOutputPath, checkOutputWritable, writeSamples } from "../sample/output.ts";
import { sampleBatch, type SamplerSpec, type TrackSpec } from "../sample/sample_batch.ts";
import { DEFAULT_SNR } from "../sample/samplers/predictor_corrector.ts";
import { EDM_CHURN_DEFAULTS, EDM_RHO } from "../sample/samplers/edm_heun.ts";
import { noiseRatio } from "../sample/samplers/noise_ratio_ode.ts";
import { logpSummary, printSampleSummary } from "../sample/sample_report.ts";
import { checkDetailReport, writeDetailReport } from "../sample/detail_report.ts";
import { type ModelOptions, openBackend, type RuntimeOptions } from "./options.ts";
import { checkModelOptions, loadModel } from "./load_model.ts";
import type { ClassOptions } from "./class_options.ts";

export interface SampleFlags extends RuntimeOptions, ModelOptions, ClassOptions {
  sampler: "em" | "pc" | "ode" | "heun" | "euler" | "ddim" | "edm" | "lm";
  steps?: number;
  eta?: number;
  sChurn?: number;
  sTmin?: number;
  sTmax?: number;
  sNoise?: number;
  rtol?: number;
  atol?: number;
  snr?: number;
  correctorSteps?: number;
  correctorNorms?: "batch" | "example";
  n: number;
  batch: number;
  tMin?: number;
  trackLogp?: boolean;
  divergence?: "exact" | "hutchinson";
  probe?: "rademacher" | "gaussian";
  prior?: "standard" | "exact";
  out?: string;
  detailReport?: boolean;
}

const DEFAULT_STEPS = {
  em: 1000,
  pc: 1000,
  heun: 100,
  euler: 100,
  ddim: 100,
  edm: 18,
  lm: 50,
} as const;

/** Flag-only checks, before any file is read or any device is started. */
function samplerOf(f: SampleFlags): SamplerSpec {
  const s = f.sampler;
  if (!f.out) throw new UsageError("sample needs --out FILE (.png, .npy or .json)");
  if (s === "ode" && f.steps !== undefined) {
    throw new UsageError(
      "--steps is for the fixed-step samplers (em, pc, heun, euler, ddim, edm); --sampler ode picks its own steps (set --rtol/--atol)",
    );
  }
  if (s !== "ode") {
    for (const [flag, v] of [["--rtol", f.rtol], ["--atol", f.atol]] as const) {
      if (v !== undefined) {
        throw new UsageError(`${flag} is for --sampler ode (Dormand–Prince); ${s} takes --steps`);
      }
    }
  }
  if (s !== "pc") {
    const pcFlags = [
      ["--snr", f.snr],
      ["--corrector-steps", f.correctorSteps],
      ["--corrector-norms", f.correctorNorms],
    ] as const;
    for (const [flag, v] of pcFlags) {
      if (v !== undefined) throw new UsageError(`${flag} is for --sampler pc, not ${s}`);
    }
  }
  if (!f.trackLogp) {
    for (
      const [flag, v] of [
        ["--divergence", f.divergence],
        ["--probe", f.probe],
        ["--prior", f.prior],
        ["--detail-report", f.detailReport],
      ] as const
    ) {
      if (v !== undefined) throw new UsageError(`${flag} needs --track-logp`);
    }
  }
  if (s !== "ddim" && f.eta !== undefined) {
    throw new UsageError(`--eta is for --sampler ddim, not ${s}`);
  }
  const churnFlags = [
    ["--s-churn", f.sChurn],
    ["--s-tmin", f.sTmin],
    ["--s-tmax", f.sTmax],
    ["--s-noise", f.sNoise],
  ] as const;
  for (const [flag, v] of churnFlags) {
    if (v !== undefined && s !== "edm") {
      throw new UsageError(`${flag} is for --sampler edm, not ${s}`);
    }
    if (v !== undefined && flag !== "--s-churn" && !f.sChurn) {
      throw new UsageError(`${flag} shapes EDM's churn; it needs --s-churn > 0`);
    }
  }
  if (f.trackLogp && s === "edm" && f.sChurn) {
    throw new UsageError(
      `--track-logp needs a deterministic sampler; --sampler edm with --s-churn ${f.sChurn} adds noise: drop --s-churn (or set it to 0)`,
    );
  }
  if (f.sTmin !== undefined && f.sTmax !== undefined && !(f.sTmin <= f.sTmax)) {
    throw new UsageError(`--s-tmin (${f.sTmin}) must not exceed --s-tmax (${f.sTmax})`);
  }
  if (f.trackLogp && s === "ddim" && (f.eta ?? 0) > 0) {
    throw new UsageError(
      `--track-logp needs a deterministic sampler; --sampler ddim with --eta ${f.eta} adds noise on every step, which has no tracked density: use --eta 0 (the PF-ODE's first-order solver), edm, ode, heun or euler`,
    );
  }
  if (f.trackLogp && s === "lm") {
    throw new UsageError(
      "--track-logp is not available with --sampler lm: its chain has its own bound instead (eval-nll --bound lm)",
    );
  }
  if (f.trackLogp && s === "pc") {
    throw new UsageError(
      "--track-logp is not available with --sampler pc: its Langevin steps (ε ≈ 2·snr²·σ²) are not small, so Itô tracking through them would not converge; use em, ode, heun or euler",
    );
  }
  if (f.probe !== undefined && f.divergence === "exact") {
    throw new UsageError(
      "--probe is for Hutchinson divergences; it conflicts with --divergence exact",
    );
  }
  if (f.detailReport && f.n < 2) {
    throw new UsageError("--detail-report correlates ≥ 2 samples; raise --n");
  }
  checkModelOptions(f, "give --ckpt FILE (a trained network) or --model gmm:FILE.json");
  if (s === "ode") return { kind: "ode", rtol: f.rtol ?? 1e-5, atol: f.atol ?? 1e-5 };
  const steps = f.steps ?? DEFAULT_STEPS[s];
  if (s === "pc") {
    return {
      kind: "pc",
      steps,
      snr: f.snr ?? DEFAULT_SNR,
      correctorSteps: f.correctorSteps ?? 1,
      norms: f.correctorNorms ?? "batch",
    };
  }
  if (s === "ddim") return { kind: s, steps, eta: f.eta ?? 0 };
  if (s === "edm" && f.sChurn) {
    const churn = {
      sChurn: f.sChurn,
      sTmin: f.sTmin ?? EDM_CHURN_DEFAULTS.sTmin,
      sTmax: f.sTmax ?? EDM_CHURN_DEFAULTS.sTmax,
      sNoise: f.sNoise ?? EDM_CHURN_DEFAULTS.sNoise,
    };
    return { kind: s, steps, churn };
  }
  return { kind: s, steps };
}

export async function runSample(f: SampleFlags): Promise<void> {
  const sampler = samplerOf(f);
  const track: TrackSpec | undefined = f.trackLogp
    ? {
      divergence: f.divergence ?? "hutchinson",
      probe: f.probe ?? "rademacher",
      prior: f.prior ?? "standard",
    }
    : undefined;
  const started = performance.now();
  const log = (line: string) => f.quiet || console.error(line);
  const backend = await openBackend(f, log);
  const dtype: DType = backend.supports("f64") ? "f64" : "f32";
  const model = await loadModel(f, backend, dtype);
  const { sde } = model;
  if (sampler.kind === "lm" && !model.denoisingCov && !("hessian" in model)) {
    throw new UsageError(
      `--sampler lm needs a covariance head (train --objective lm) or an analytic gmm: model; ${model.description} has neither`,
    );
  }
  if (track?.prior === "exact" && !model.logp) {
    throw new UsageError(
      `--prior exact needs an analytic model with a known p_T; ${model.description} has none (use --prior standard)`,
    );
  }
  if (f.detailReport) checkDetailReport(f.n, model.shape, model.description);
  checkOutputPath(f.out!, model.shape);
  await checkOutputWritable(f.out!);
  const tMin = f.tMin ?? sde.tMinSampling;
  if (!(tMin < sde.T)) throw new UsageError(`--t-min must be below T = ${sde.T}, got ${tMin}`);

  const D = model.shape.reduce((p, d) => p * d, 1);
  const rng = Rng.fromSeed(f.seed);
  const values = new Float64Array(f.n * D);
  const logp = track ? new Float64Array(f.n) : undefined;
  const nfe = new Int32Array(f.n), steps = new Int32Array(f.n);
  const progress = new Progress("sample", f.n, "samples", f.quiet === true);
  for (let start = 0; start < f.n; start += f.batch) {
    const nb = Math.min(f.batch, f.n - start);
    const r = await sampleBatch(model, { sampler, tMin, track, rng, backend, dtype }, start, nb);
    values.set(r.x, start * D);
    if (logp) logp.set(r.logp!, start);
    nfe.set(r.nfe, start);
    steps.set(r.steps, start);
    progress.update(start + nb);
  }
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new Error(
      `sample ${Math.floor(bad / D)} is not finite (${
        values[bad]
      }): the sampler diverged; try more --steps or a smaller --rtol`,
    );
  }
  await writeSamples(f.out!, values, f.n, model.shape);
  const detail = f.detailReport
    ? await writeDetailReport(f.out!, values, logp!, model.shape)
    : undefined;
  const mean = (v: ArrayLike<number>) => Array.from(v).reduce((s, x) => s + x, 0) / v.length;
  const doc: Record<string, unknown> = {
    command: "sample",
    model: model.description,
    n: f.n,
    dim: D,
    shape: [...model.shape],
    sampler: f.sampler,
    steps: sampler.kind === "ode" ? mean(steps) : sampler.steps,
    ...(sampler.kind === "ode" ? { rtol: sampler.rtol, atol: sampler.atol } : {}),
    ...(sampler.kind === "ddim" ? { eta: sampler.eta } : {}),
    // EDM's levels as noise-to-signal ratios σ/α; its samples (and log p) are at σ/α = 0
    ...(sampler.kind === "edm"
      ? {
        rho: EDM_RHO,
        sigma_max: noiseRatio(sde, sde.T),
        sigma_min: noiseRatio(sde, tMin),
        // JSON has no Infinity: an open window reads null
        s_churn: sampler.churn?.sChurn ?? 0,
        ...(sampler.churn
          ? {
            s_tmin: sampler.churn.sTmin,
            s_tmax: Number.isFinite(sampler.churn.sTmax) ? sampler.churn.sTmax : null,
            s_noise: sampler.churn.sNoise,
          }
          : {}),
      }
      : {}),
    ...(sampler.kind === "pc"
      ? {
        snr: sampler.snr,
        corrector_steps: sampler.correctorSteps,
        corrector_norms: sampler.norms,
      }
      : {}),
    sde: { kind: sde.kind, params: { ...sde.params } },
    t_min: tMin,
    t_max: sde.T,
    nfe_mean: mean(nfe),
    seed: f.seed,
    batch: f.batch,
    track_logp: track !== undefined,
    ...(track ? { ...track, probe: track.divergence === "exact" ? null : track.probe } : {}),
    ...(logp ? logpSummary(logp, D) : {}),
    ...(detail ? { detail_report: detail } : {}),
    out: f.out,
    backend: backend.name,
    seconds: (performance.now() - started) / 1000,
  };
  printSampleSummary(doc, f.json === true);
}
