/**
 * `guidance`: steering log p_0 (docs/MATH.md §5) — density guidance (`--q`, with `--noise` its
 * stochastic form; `--b-schedule` with a user schedule b_t), prior guidance (`--prior-q`),
 * latent optimisation (`--optimize-latent`) — or measuring score alignment (`--score-alignment`). Exactly one mode per run; every conflict names both flags.
 */

import { type Command, InvalidArgumentError } from "commander";
import { UsageError } from "../io/errors.ts";
import {
  nonNegativeNumber,
  numberFlag,
  positiveInt,
  positiveNumber,
  probability,
} from "./flags.ts";
import { addFlowOptions, FLOW_OPTION_KEYS } from "./flow_command.ts";
import type { OptionKeys } from "./options.ts";
import { type GuidanceFlags, runGuidance } from "./guidance_run.ts";
import { addClassOptions, CLASS_OPTION_KEYS } from "./class_options.ts";

export const describe =
  "density guidance (--q, --noise, --b-schedule), prior guidance (--prior-q), latent optimisation (--optimize-latent) or score alignment of latents";

/** "a,b" → [a, b] (two numbers; the range is checked once t_min is known). */
function windowFlag(v: string): [number, number] {
  const parts = v.split(",").map((p) => Number(p));
  if (
    parts.length !== 2 || v.split(",").some((p) => p.trim() === "") || !parts.every(Number.isFinite)
  ) {
    throw new InvalidArgumentError(`--noise-window must be two times t0,t1, got ${v}`);
  }
  return [parts[0], parts[1]];
}

export const optionKeys = {
  ...FLOW_OPTION_KEYS,
  ...CLASS_OPTION_KEYS,
  q: true,
  noise: true,
  noiseWindow: true,
  noiseSteps: true,
  exactCorrection: true,
  priorQ: true,
  scoreAlignment: true,
  scoreFree: true,
  bSchedule: true,
  optimizeLatent: true,
  targetLogp: true,
  iters: true,
  lr: true,
  priorWeight: true,
} as const satisfies OptionKeys<Omit<GuidanceFlags, "weights">>;

export function register(cmd: Command): void {
  addFlowOptions(
    addClassOptions(cmd)
      .usage(
        "(--model gmm:FILE | --ckpt FILE) (--q Q | --prior-q Q | --score-alignment) --out FILE [options]",
      )
      .option(
        "--q <q>",
        "density guidance: quantile q in (0, 1); q > 0.5 raises log p_0",
        probability("--q"),
      )
      .option(
        "--noise <phi>",
        "stochastic density guidance: noise φ̃ relative to g (with --q)",
        positiveNumber("--noise"),
      )
      .option(
        "--noise-window <t0,t1>",
        "times where noise is injected (default: all of [t_min, T])",
        windowFlag,
      )
      .option(
        "--noise-steps <n>",
        "Euler–Maruyama steps across the noise window (500)",
        positiveInt("--noise-steps"),
      )
      .option(
        "--exact-correction",
        "use tr(P∇²log p) = Δlog p − ŝᵀ∇²log p ŝ instead of the published Δlog p",
      )
      .option(
        "--prior-q <q>",
        "prior guidance: rescale x_T to norm χ_D⁻¹(1 − q)·σ_T, then the PF-ODE",
        probability("--prior-q"),
      )
      .option("--score-alignment", "measure ⟨∇log p_0(x_0), J_{T→0}∇log p_T(x_T)⟩ per latent")
      .option("--score-free", "score alignment by transporting ω' = −∇·(J_u v) (no score at x_0)")
      .option(
        "--b-schedule <file|expr>",
        'density guidance with a schedule b_t added to d log p_t/dt: an expression in t ("-50*t*(1-t)") or a .json/.csv table of (t, b); b < 0 raises log p_0',
      )
      .option(
        "--optimize-latent",
        "optimise x_T through the fixed-step PF-ODE towards --target-logp (--steps per solve, default 16)",
      )
      .option(
        "--target-logp <v>",
        "with --optimize-latent: the log p_0 to reach, nats",
        numberFlag("--target-logp", "a number (nats)", () => true),
      )
      .option("--iters <n>", "with --optimize-latent: Adam steps (100)", positiveInt("--iters"))
      .option(
        "--lr <x>",
        "with --optimize-latent: Adam's first step size on x_T/σ_T, decayed to 0 by a half cosine (0.1)",
        positiveNumber("--lr"),
      )
      .option(
        "--prior-weight <λ>",
        "with --optimize-latent: λ of λ(‖x_T‖/σ_T − √D)², keeping x_T typical (1)",
        nonNegativeNumber("--prior-weight"),
      ),
  )
    .addHelpText(
      "after",
      `
Examples:
  deno run -P main.ts guidance --model gmm:fixtures/mix10d.json --q 0.3 --n 64 --out low.npy --json
  deno run -P main.ts guidance --model gmm:fixtures/mix10d.json --q 0.3 --noise 0.5 --noise-window 0.2,0.8 --exact-correction --out x.npy
  deno run -P main.ts guidance --model gmm:fixtures/mix2d.json --prior-q 0.7 --n 500 --out prior.png
  deno run -P main.ts guidance --model gmm:fixtures/mix10d.json --b-schedule "-20*t*(1-t)" --n 64 --out high.npy
  deno run -P main.ts guidance --model gmm:fixtures/mix10d.json --optimize-latent --target-logp -8 --iters 100 --prior-weight 0.1 --out opt.npy --json
  deno run -P main.ts guidance --ckpt runs/mnist-cfg/ckpt.safetensors --class 3 --cfg 1 --q 0.3 --n 16 --out x.png
  deno run -P main.ts guidance --ckpt runs/mnist/ckpt.safetensors --score-alignment --score-free --n 16 --out sa.png --json`,
    )
    .action(async (opts: GuidanceFlags) => {
      checkModes(opts);
      await runGuidance(opts);
    });
}

/** Exactly one mode, and every mode-specific flag only with its mode. */
export function checkModes(f: GuidanceFlags): void {
  const modes = [
    f.q !== undefined && "--q",
    f.priorQ !== undefined && "--prior-q",
    f.scoreAlignment && "--score-alignment",
    f.bSchedule !== undefined && "--b-schedule",
    f.optimizeLatent && "--optimize-latent",
  ].filter((m): m is string => typeof m === "string");
  if (modes.length === 0) {
    throw new UsageError(
      "guidance needs one mode: --q Q (density guidance), --b-schedule B (density guidance with a schedule), --prior-q Q (prior guidance), --optimize-latent (latent optimisation) or --score-alignment",
    );
  }
  if (modes.length > 1) {
    throw new UsageError(
      `${
        modes.join(" and ")
      } conflict: give exactly one of --q, --b-schedule, --prior-q, --optimize-latent, --score-alignment`,
    );
  }
  if (f.noise !== undefined && f.q === undefined) {
    throw new UsageError("--noise needs --q: stochastic guidance is density guidance with noise");
  }
  for (
    const [set, flag] of [
      [f.noiseWindow !== undefined, "--noise-window"],
      [f.noiseSteps !== undefined, "--noise-steps"],
      [f.exactCorrection === true, "--exact-correction"],
    ] as const
  ) {
    if (set && f.noise === undefined) throw new UsageError(`${flag} needs --noise PHI (and --q Q)`);
  }
  if (f.scoreFree && !f.scoreAlignment) {
    throw new UsageError("--score-free needs --score-alignment");
  }
  for (
    const [set, flag] of [
      [f.targetLogp !== undefined, "--target-logp"],
      [f.iters !== undefined, "--iters"],
      [f.lr !== undefined, "--lr"],
      [f.priorWeight !== undefined, "--prior-weight"],
    ] as const
  ) {
    if (set && !f.optimizeLatent) throw new UsageError(`${flag} needs --optimize-latent`);
  }
  if (f.optimizeLatent && f.targetLogp === undefined) {
    throw new UsageError("--optimize-latent needs --target-logp V (the log p_0 to reach, nats)");
  }
}
