/** Runs a `guidance` invocation (flags already checked for modes): batches, then the report. */

import { UsageError } from "../io/errors.ts";
import { type BatchInput, forEachBatch } from "../sample/flow/batches.ts";
import { commonReport, printReport } from "../sample/flow/report.ts";
import type { FlowResult } from "../sample/flow/segments.ts";
import { CLAMP_RATE, densityGuidanceSample, predictedShift } from "../sample/guidance/density.ts";
import { stochasticGuidanceSample } from "../sample/guidance/stochastic.ts";
import { priorGuidanceRadius, priorGuidanceSample } from "../sample/guidance/prior.ts";
import { type AlignmentResult, scoreAlignment } from "../sample/guidance/score_alignment.ts";
import { latentRadius } from "../sample/guidance/latents.ts";
import { type GuidedResult, realisedShift } from "../sample/guidance/realised_shift.ts";
import { loadBSchedule } from "../sample/guidance/b_schedule.ts";
import { bScheduleSample } from "../sample/guidance/b_guidance.ts";
import {
  type LatentOptimizationResult,
  optimizeLatent,
} from "../sample/guidance/latent_optimization.ts";
import { LATENT_DEFAULTS, latentReport } from "../sample/guidance/latent_report.ts";
import { type FlowFlags, openFlow } from "./flow_command.ts";
import type { ClassOptions } from "./class_options.ts";

export interface GuidanceFlags extends FlowFlags, ClassOptions {
  q?: number;
  noise?: number;
  noiseWindow?: [number, number];
  noiseSteps?: number;
  exactCorrection?: boolean;
  priorQ?: number;
  scoreAlignment?: boolean;
  scoreFree?: boolean;
  bSchedule?: string;
  optimizeLatent?: boolean;
  targetLogp?: number;
  iters?: number;
  lr?: number;
  priorWeight?: number;
}

/** Euler–Maruyama steps across the noise window unless `--noise-steps` says otherwise. */
export const DEFAULT_NOISE_STEPS = 500;

export async function runGuidance(flags: GuidanceFlags): Promise<void> {
  const { s, settings: f } = await openFlow(flags, "guidance");
  const { sde, tMin, D } = s;
  let window: [number, number] | undefined;
  if (f.noise !== undefined) {
    window = f.noiseWindow ?? [tMin, sde.T];
    const [a, b] = window;
    if (!(tMin <= a && a < b && b <= sde.T)) {
      throw new UsageError(
        `--noise-window ${a},${b} must satisfy t_min ≤ t0 < t1 ≤ T with [t_min, T] = [${tMin}, ${sde.T}]`,
      );
    }
  }
  const schedule = f.bSchedule !== undefined
    ? await loadBSchedule(f.bSchedule, tMin, sde.T)
    : undefined;
  const latent = {
    targetLogp: f.targetLogp!,
    iters: f.iters ?? LATENT_DEFAULTS.iters,
    lr: f.lr ?? LATENT_DEFAULTS.lr,
    priorWeight: f.priorWeight ?? LATENT_DEFAULTS.priorWeight,
    steps: f.steps ?? LATENT_DEFAULTS.steps,
  };
  const score = s.model.score.bind(s.model);
  const guided = (b: BatchInput): Promise<FlowResult> => {
    const o = b.solve;
    if (schedule) return bScheduleSample(score, sde, b.xT, { ...o, schedule });
    if (f.optimizeLatent) {
      // log p_0 by the model's closed form where it has one, else the PF-ODE likelihood
      const exactLogp = s.model.logp?.bind(s.model);
      return optimizeLatent(score, sde, b.xT, { ...o, ...latent, exactLogp });
    }
    if (f.scoreAlignment) {
      const terminal = o.terminalLogp && b.terminalScore
        ? { logp: o.terminalLogp, score: b.terminalScore }
        : undefined;
      return scoreAlignment(score, sde, b.xT, { ...o, scoreFree: f.scoreFree === true, terminal });
    }
    if (f.priorQ !== undefined) return priorGuidanceSample(score, sde, b.xT, { ...o, q: f.priorQ });
    if (window) {
      return stochasticGuidanceSample(score, sde, b.xT, {
        ...o,
        q: f.q!,
        noise: f.noise!,
        window,
        steps: f.noiseSteps ?? DEFAULT_NOISE_STEPS,
        exactCorrection: f.exactCorrection === true,
        rng: s.rng.derive("stochastic-guidance"),
        firstIndex: b.first,
      });
    }
    return densityGuidanceSample(score, sde, b.xT, { ...o, q: f.q! });
  };
  // Density guidance predicts a shift against the PF-ODE from the same latents: solve that
  // too (prior guidance at q = 0.5 starts from exactly the median norm), with the same probe.
  const withBaseline = f.q !== undefined || schedule !== undefined;
  const results: GuidedResult[] = await forEachBatch(s, f, "guidance", async (b) => {
    const r: GuidedResult = await guided(b);
    if (withBaseline) {
      const pf = await priorGuidanceSample(score, sde, b.xT, { ...b.solve, q: 0.5 });
      r.baselineLogp = pf.logp;
    }
    return r;
  });
  const doc = await commonReport(s, f, "guidance", results);
  const lines: string[] = [];
  const warnings: string[] = [];
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  if (f.scoreAlignment) {
    const sa = results.flatMap((r) => Array.from((r as AlignmentResult).alignment));
    const positive = sa.filter((v) => v > 0).length / sa.length;
    Object.assign(doc, {
      mode: "score-alignment",
      score_free: f.scoreFree === true,
      score_alignment: sa,
      fraction_positive: positive,
    });
    lines.push(
      `score alignment${f.scoreFree ? " (score-free)" : ""}: positive for ${
        (100 * positive).toFixed(1)
      } % of ${f.n} latents, mean ${mean(sa).toPrecision(5)}`,
    );
  } else if (f.priorQ !== undefined) {
    const norm = priorGuidanceRadius(sde, D, f.priorQ);
    Object.assign(doc, { mode: "prior", q: f.priorQ, latent_norm: norm });
    lines.push(
      `prior guidance q = ${f.priorQ}: latents at norm ${norm.toPrecision(6)}, then the PF-ODE`,
    );
  } else if (f.optimizeLatent) {
    const report = latentReport(results as LatentOptimizationResult[], latent);
    Object.assign(doc, report.fields);
    lines.push(...report.lines);
  } else {
    // with a schedule b_t the predicted shift is ∫_T^{t_min} b_t dt (docs/density_guidance.md)
    const shift = schedule
      ? schedule.predictedShift(tMin, sde.T)
      : predictedShift(sde, D, f.q!, tMin);
    const realised = realisedShift(results);
    const withheld = results.flatMap((r) => Array.from(r.withheld));
    const clamped = withheld.filter((w) => w !== 0).length;
    Object.assign(doc, {
      mode: window ? "stochastic" : schedule ? "b-schedule" : "density",
      q: f.q,
      ...(schedule ? { b_schedule: { kind: schedule.kind, source: schedule.source } } : {}),
      latent_norm: latentRadius(sde, D, 0.5),
      predicted_shift_nats: shift,
      realised_shift_nats: realised.mean,
      realised_shift_stderr: realised.stderr,
      pf_ode_logp_mean: realised.baselineMean,
      clamp: {
        rule: "eta = 1 + k/(sigma^2 max(|s|^2, |k| kappa+/(2c))), kappa = -s^T H s/|s|^2",
        rate_c: CLAMP_RATE,
        samples_clamped: clamped,
        withheld_nats: withheld,
        withheld_nats_mean: mean(withheld),
      },
    });
    if (window) {
      Object.assign(doc, {
        noise: f.noise,
        noise_window: window,
        noise_steps: f.noiseSteps ?? DEFAULT_NOISE_STEPS,
        exact_correction: f.exactCorrection === true,
      });
    }
    if (clamped > 0) {
      warnings.push(
        `the requested shift was unreachable for ${clamped} of ${f.n} samples: η was clamped near a mode and ${
          mean(withheld).toFixed(3)
        } nats (mean) of the predicted ${shift.toFixed(3)} withheld`,
      );
    }
    lines.push(
      `${window ? "stochastic " : ""}density guidance ${
        schedule ? `b_t = ${schedule.source}` : `q = ${f.q}`
      }: shift of mean log p_0 against ` +
        `the PF-ODE from the same latents: predicted ${shift.toFixed(4)} nats, realised ` +
        `${realised.mean.toFixed(4)} ± ${realised.stderr.toFixed(4)} nats`,
    );
  }
  doc.warnings = warnings;
  for (const w of warnings) console.error(`warning: ${w}`);
  lines.push(
    `mean log p_0 ${(doc.logp_mean as number).toFixed(4)} nats (prior ${f.prior}), mean NFE ${
      (doc.nfe_mean as number).toFixed(1)
    }`,
  );
  printReport(s, f, doc, lines);
}
