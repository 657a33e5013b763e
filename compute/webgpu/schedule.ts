/**
 * What the matmul and conv2d schedules share: the backend's settings that steer variant choice,
 * the record of the choices made, and autotune trials timed on scratch operands.
 */

import type { Storage } from "../backend.ts";
import type { Autotuner, Trial } from "./autotune.ts";
import type { Dispatcher } from "./dispatcher.ts";
import type { MatmulVariant } from "./matmul_schedule.ts";
import type { ConvVariant } from "./conv_schedule.ts";

/**
 * Batch-invariant mode sizes its choices for this many rows (matmul) or images (conv2d), eval-nll's
 * default --batch, whatever the product's real batch: the choice then depends on the shape class
 * alone.
 */
export const NOMINAL_BATCH = 64;

/** The backend's public knobs, read at every choice (tests and commands change them). */
export interface ScheduleSettings {
  /** lavapipe/llvmpipe/SwiftShader: the direct conv2d kernels are the untuned default */
  readonly software: boolean;
  matmulVariant: MatmulVariant;
  /** A conv2d variant forced for every geometry; null lets the default or the tuner pick. */
  convVariant: ConvVariant | null;
  autotune: Autotuner | null;
  /** Choose from the shape without its batch dimension, and neither consult nor feed the tuner. */
  batchInvariant: boolean;
}

/** Variants run (batch-invariant mode: chosen) per kernel family since the last clear. */
export class KernelChoices {
  #choices = new Map<string, Set<string>>();

  /** Records that a kernel family ran (or, batch-invariant, chose) a variant. */
  note(family: string, variant: string): void {
    let set = this.#choices.get(family);
    if (!set) this.#choices.set(family, set = new Set());
    set.add(variant);
  }

  /** The variants noted per kernel family since the last `clear`, sorted. */
  list(): Record<string, string[]> {
    return Object.fromEntries(
      [...this.#choices].sort(([a], [b]) => a.localeCompare(b)).map(([f, v]) => [f, [...v].sort()]),
    );
  }

  clear(): void {
    this.#choices.clear();
  }
}

/**
 * A trial whose run of a candidate records `run` on fresh scratch buffers of `sizes` and waits
 * for the queue: the time of that candidate alone, since everything before was flushed.
 */
export function timedTrial(
  d: Dispatcher,
  candidates: readonly string[],
  sizes: number[],
  run: (candidate: string, scratch: Storage[]) => void,
): Trial {
  return {
    candidates,
    time: async (c: string) => {
      const scratch = sizes.map((n) => d.alloc(n, "f32"));
      const t0 = performance.now();
      run(c, scratch);
      d.flush();
      await d.device.queue.onSubmittedWorkDone();
      const ms = performance.now() - t0;
      for (const x of scratch) d.free(x);
      return ms;
    },
  };
}
