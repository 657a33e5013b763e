/**
 * A training run end to end: the run directory (checked, locked, never silently replaced),
 * configuration, `--resume`/`--init`, the step loop with metrics every N steps (the only
 * readbacks), checkpoint and optimiser state saved as one unit, Ctrl-C, and the held-out NLL
 * through the eval-nll machinery at the end.
 */

import { join } from "node:path";
import {
  assign,
  type Backend,
  type BackendName,
  type DType,
  Rng,
  treeLeaves,
} from "../compute/mod.ts";
import { checkpointMeta, configHash, loadCheckpoint, restoreTree } from "../io/checkpoint.ts";
import {
  CKPT_FILE,
  loadCheckpointPair,
  saveCheckpointPair,
  STATE_FILE,
} from "../io/checkpoint_pair.ts";
import { RuntimeFailure, UsageError } from "../io/errors.ts";
import { diskWriter, type FileWriter, writeFileAtomic } from "../io/atomic.ts";
import { lineSvg } from "../io/svg_plot.ts";
import { Progress } from "../io/progress.ts";
import type { TrainConfig } from "../train/config.ts";
import { resolveTrainData } from "../train/data.ts";
import { type DataCursor, type LmParams, Trainer, type TrainParams } from "../train/trainer.ts";
import { sdeFromJson } from "../sde/processes.ts";
import { writeSampleGrid } from "../sample/sample_grid.ts";
import { openRunDir } from "../train/run_dir.ts";
import { RunInterrupts } from "../train/interrupts.ts";
import { MetricsLog } from "../train/metrics_log.ts";
import { configChanges } from "../train/config_diff.ts";
import { fitClassesToData, fitModelToData } from "./train_config.ts";
import { openBackend } from "./options.ts";
import { heldOutNll } from "./train_heldout.ts";

/** Thrown after an interrupted run saved its checkpoint: main.ts exits 130. */
export class Interrupted extends Error {
  override name = "Interrupted";
  readonly exitCode = 130;
}

export interface RunOptions {
  steps: number;
  out: string;
  resume: boolean;
  /** replace a run already in `out` */
  force?: boolean;
  init?: string;
  backend: BackendName;
  /** false under --no-autotune */
  autotune?: boolean;
  logEvery: number;
  ckptEvery: number;
  keep: number;
  maxBadSteps: number;
  evalExamples: number;
  /** samples in the PNG grid written after an image run (0: none) */
  gridSamples: number;
  gridSteps: number;
  json: boolean;
  quiet: boolean;
  /** Ctrl-C as the CLI watches it (train/interrupts.ts); none: signals keep their default */
  interrupts?: RunInterrupts;
  /** where the run's files are written (tests substitute a failing disk) */
  writer?: FileWriter;
}

/** The part of the config that must not change under `--resume`. */
function hashed(c: TrainConfig) {
  return { ...c };
}

export async function runTraining(
  requested: TrainConfig,
  o: RunOptions,
): Promise<Record<string, unknown>> {
  const interrupts = o.interrupts ?? RunInterrupts.inert();
  interrupts.enter("setup", 0);
  // before any long work (backend, data): the directory must be writable and free
  const lock = await openRunDir(o.out, { resume: o.resume, force: o.force === true }, notice);
  try {
    return await trainInRunDir(requested, o, interrupts);
  } finally {
    lock.release();
  }
}

/** Notices about the run directory print even under --quiet. */
const notice = (line: string) => console.error(line);

async function trainInRunDir(
  requested: TrainConfig,
  o: RunOptions,
  interrupts: RunInterrupts,
): Promise<Record<string, unknown>> {
  const log = (s: string) => o.quiet || console.error(s);
  const writer = o.writer ?? diskWriter;
  const backend: Backend = await openBackend(o, log);
  const dtype: DType = "f32";
  const sde = sdeFromJson(requested.sde);
  const dataRng = Rng.fromSeed(requested.seed).derive("data");
  const data = await resolveTrainData(requested.data, requested.nTrain, dataRng, sde);
  const config = fitClassesToData(
    fitModelToData(requested, data.train.shape),
    data.train.classes,
  );
  const trainer = new Trainer(backend, dtype, config, data.train, data.quantization);
  const ckptPath = join(o.out, CKPT_FILE), statePath = join(o.out, STATE_FILE);
  const hash = await configHash(hashed(config));
  if (o.resume) {
    const { ckpt: ck, state: st } = await loadCheckpointPair(o.out, backend, dtype, notice);
    if (ck.meta.config_hash !== hash) {
      // the stored config as JSON against this run's, both as JSON text would hold them
      const changes = configChanges(ck.config, JSON.parse(JSON.stringify(hashed(config))));
      throw new UsageError(
        `--resume: ${ckptPath} was trained with a different configuration (${
          changes.join("; ")
        }); change nothing but --steps, or start a new --out`,
      );
    }
    copyTree(restoreTree(trainer.params, ck.params, "params", ckptPath), trainer.params);
    copyTree(restoreTree(trainer.ema, ck.ema ?? {}, "ema", ckptPath), trainer.ema);
    copyTree(restoreTree(trainer.adam.m, st.adamM, "adam_m", statePath), trainer.adam.m);
    copyTree(restoreTree(trainer.adam.v, st.adamV, "adam_v", statePath), trainer.adam.v);
    trainer.restore(st.step, st.rng, st.dataCursor as unknown as DataCursor);
    log(`resumed ${o.out} at step ${st.step}`);
  } else if (o.init) {
    const ck = await loadCheckpoint(o.init, backend, dtype);
    // Likelihood Matching on a trained score network: its weights fill the score part, the
    // covariance head starts fresh
    const scoreOnly = config.lm !== null &&
      !Object.keys(ck.params).some((n) => n.startsWith("params.score."));
    const into = (t: TrainParams) => (scoreOnly ? (t as LmParams).score : t);
    copyTree(restoreTree(into(trainer.params), ck.params, "params", o.init), into(trainer.params));
    copyTree(
      restoreTree(into(trainer.ema), ck.ema ?? ck.params, ck.ema ? "ema" : "params", o.init),
      into(trainer.ema),
    );
    log(
      `initialised ${scoreOnly ? "the score network " : ""}from ${o.init} (step ${ck.meta.step}) ` +
        "with a fresh optimiser",
    );
  }
  const startStep = trainer.step;
  const evalPath = join(o.out, "eval.json");
  // a run whose steps are all done but whose final evaluation is missing (stopped during it)
  // runs only that evaluation
  if (trainer.step > o.steps || (trainer.step === o.steps && (await exists(evalPath)))) {
    throw new UsageError(
      `--steps ${o.steps}: the run in ${o.out} is already at step ${trainer.step}` +
        (trainer.step === o.steps ? " and evaluated" : "") +
        "; pass a larger --steps to continue it",
    );
  }
  const metrics = await MetricsLog.open(
    join(o.out, "metrics.jsonl"),
    o.resume ? trainer.step : null,
    notice,
    writer,
  );

  let saved = o.resume ? trainer.step : -1;
  /** Checkpoint and state of this step as one unit, then the metrics lines it covers. */
  const save = async () => {
    interrupts.enter("saving", trainer.step);
    await saveCheckpointPair(o.out, {
      params: trainer.params,
      ema: trainer.ema,
      metadata: await checkpointMeta(hashed(config), trainer.step),
      keep: o.keep,
      state: {
        adamM: trainer.adam.m,
        adamV: trainer.adam.v,
        step: trainer.step,
        rng: trainer.rng.state(),
        dataCursor: { ...trainer.cursor },
      },
    }, writer);
    saved = trainer.step;
    await metrics.commit(saved);
  };

  const progress = new Progress("train", o.steps, "steps", o.quiet, { first: startStep });
  const started = performance.now();
  let bad = 0;
  if (trainer.step < o.steps) {
    log(
      `training steps ${trainer.step + 1}–${o.steps} → ${o.out} ` +
        "(Ctrl-C stops after the current step and saves)",
    );
  } else log(`${o.out} is at step ${trainer.step}; running its missing final evaluation`);
  interrupts.enter("training", trainer.step + 1);
  // the stop flag is read before every step; a Ctrl-C during a readback is seen after it
  while (trainer.step < o.steps && !interrupts.stopBefore(trainer.step + 1)) {
    const loss = trainer.trainStep();
    const step = trainer.step;
    if (step % o.logEvery !== 0 && step !== o.steps) {
      loss.dispose();
    } else {
      // the only readback of the loop, every --log-every steps
      const value = await loss.item();
      loss.dispose();
      bad = Number.isFinite(value) ? 0 : bad + 1;
      metrics.record({ step, loss: value, lr: trainer.learningRate() });
      if (bad >= o.maxBadSteps) {
        throw new RuntimeFailure(
          `the loss was not finite at ${bad} logged steps in a row (last at step ${step}); ` +
            `stopping, the last good checkpoint in ${o.out} is kept (try a lower --lr or --clip)`,
        );
      }
      progress.update(step, `loss ${value.toPrecision(4)}`);
    }
    if (step % o.ckptEvery === 0 && bad === 0) {
      await save();
      interrupts.enter("training", trainer.step + 1);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  if (saved !== trainer.step) await save();
  else interrupts.enter("saving", trainer.step);
  if (metrics.history.length > 1 && trainer.step > startStep) {
    // the whole run's curve, resumed parts included
    await writeFileAtomic(
      join(o.out, "loss.svg"),
      lineSvg(
        metrics.history.map((h) => h.step),
        metrics.history.map((h) => h.loss),
        `training loss (${config.objective})`,
        "step",
        "loss",
      ),
      writer,
    );
  }
  if (interrupts.stopRequested) {
    interrupts.enter("stopped", trainer.step);
    throw new Interrupted(
      `interrupted at step ${trainer.step}; checkpoint saved in ${o.out} (continue with --resume)`,
    );
  }
  interrupts.enter("evaluating", trainer.step);
  const poll = () => interrupts.exitIfAsked();

  let grid: string | null = null;
  if (o.gridSamples > 0 && data.train.shape.length === 3) {
    const path = join(o.out, "samples.png");
    // a run that only finishes its evaluation keeps a grid it already wrote
    if (trainer.step === startStep && (await exists(path))) grid = path;
    else {
      try {
        await writeSampleGrid(trainer.model(true), path, {
          n: o.gridSamples,
          steps: o.gridSteps,
          rng: Rng.fromSeed(config.seed).derive("grid"),
          backend,
          dtype,
        });
        grid = path;
        log(`${o.gridSamples} samples (Euler–Maruyama, ${o.gridSteps} steps) → ${path}`);
      } catch (e) {
        // a diverged (NaN) sample says something about the model; the run itself is saved
        console.error(`warning: ${path} not written: ${(e as Error).message}`);
      }
    }
  }

  const heldout = await heldOutNll(trainer.model(true), data, config, {
    backend,
    dtype,
    examples: o.evalExamples,
    quiet: o.quiet,
    poll,
    log,
  });
  const stepsThisRun = trainer.step - startStep;
  const summary = {
    command: "train",
    out: o.out,
    steps: trainer.step,
    steps_this_run: stepsThisRun,
    resumed_from: o.resume ? startStep : null,
    seconds_training: seconds,
    steps_per_second: stepsThisRun > 0 ? stepsThisRun / seconds : null,
    final_loss: metrics.history.at(-1)?.loss ?? null,
    heldout,
    data_entropy_nats: data.entropy,
    samples_png: grid,
    backend: backend.name,
    config,
  };
  interrupts.enter("finishing", trainer.step);
  await writeFileAtomic(evalPath, JSON.stringify(summary, null, 2), writer);
  return summary;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

function copyTree<T extends Parameters<typeof treeLeaves>[0]>(from: T, to: T): void {
  const src = treeLeaves(from), dst = treeLeaves(to);
  dst.forEach((t, i) => {
    assign(t, src[i]);
    src[i].dispose();
  });
}
