/**
 * The labels of eval-nll's data (`--labels`): an image set's own labels, or the classes of a
 * labelled mixture's draws (`gmm:FILE` with `"classes"`), which are then drawn class by class
 * (data/gmm_classes.ts) from the same "data" stream — so `--labels` and `--class K` runs of
 * one seed see the same examples. Other data have no labels, and `--labels` is refused.
 */

import type { Backend, DType, Rng } from "../compute/mod.ts";
import { UsageError } from "../io/errors.ts";
import { loadGmmSpec } from "../data/gmm_spec.ts";
import { GmmModel } from "../data/gmm_model.ts";
import { sampleLabelled } from "../data/gmm_classes.ts";
import { isImageSpec } from "../data/image_set.ts";
import type { DiffusionModel } from "../sde/model.ts";
import { type EvalData, GMM_DATA_DEFAULT_N } from "./resolve.ts";

/** Whether `spec` may carry labels (an image set or a `gmm:` file), before reading it. */
export const mayCarryLabels = (spec: string) => isImageSpec(spec) || spec.startsWith("gmm:");

/**
 * For a labelled `gmm:` spec: its labelled draws (rows replace resolveData's); for an image
 * set: the labels resolveData read with its images. Throws a UsageError naming the spec when
 * the data have no labels, or labels the model has no class for.
 */
export async function resolveLabels(
  spec: string,
  model: DiffusionModel,
  data: EvalData,
  o: { rng: Rng; backend: Backend; dtype: DType; limit?: number },
): Promise<{ labels: Int32Array; rows?: Float64Array; description?: string }> {
  const unlabelled = (why: string) =>
    new UsageError(
      `--labels evaluates each example under its own label; --data ${spec} ${why} (give a labelled gmm: file, mnist, fashion-mnist, cifar10 or imagenet32)`,
    );
  let out: { labels: Int32Array; rows?: Float64Array; description?: string };
  if (isImageSpec(spec)) {
    if (!data.labels) throw unlabelled("has no labels");
    out = { labels: data.labels };
  } else if (spec.startsWith("gmm:")) {
    const path = spec.slice(4);
    const source = new GmmModel(await loadGmmSpec(path), model.sde);
    if (!source.classes) throw unlabelled(`has no "classes"`);
    const count = o.limit ?? GMM_DATA_DEFAULT_N;
    const { rows, labels } = await sampleLabelled(source, o.rng, o.backend, count, o.dtype);
    out = {
      labels,
      rows,
      description: `${count} labelled samples of gmm:${path} (seed stream "data")`,
    };
  } else {
    throw unlabelled("has no labels");
  }
  const classes = model.classes!;
  const bad = out.labels.findIndex((l) => !(l >= 0 && l < classes));
  if (bad >= 0) {
    throw new UsageError(
      `--labels: example ${bad} of --data ${spec} has label ${
        out.labels[bad]
      }, but ${model.description} has classes 0…${classes - 1}`,
    );
  }
  return out;
}
