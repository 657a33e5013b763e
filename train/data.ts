/**
 * Training and held-out data from a spec: `toy:NAME` and `gmm:FILE` draw finite sets from the
 * seed (held-out points from their own stream), `points:FILE` holds out its last tenth, and
 * image specs (`mnist`, `cifar10:DIR`, …) use their train and test splits. Integer data come
 * back in level units with their quantisation; the trainer maps them to model space.
 */

import { referenceBackend, type Rng, sizeOf } from "../compute/mod.ts";
import { type Dataset, pointsDataset, toyDataset } from "../data/dataset.ts";
import { GmmModel } from "../data/gmm_model.ts";
import { loadGmmSpec } from "../data/gmm_spec.ts";
import { sampleLabelled } from "../data/gmm_classes.ts";
import { withLabels } from "../data/labelled_dataset.ts";
import { loadPoints } from "../data/points.ts";
import { parseToySpec } from "../data/toy2d.ts";
import { UsageError } from "../io/errors.ts";
import { EIGHT_BIT_SYMMETRIC, type Quantization } from "../data/quantization.ts";
import { imageDataset } from "../data/image_dataset.ts";
import { isImageSpec, loadImageSpec } from "../data/image_set.ts";
import type { Sde } from "../sde/sde.ts";

export interface TrainData {
  train: Dataset;
  heldOut: Float64Array;
  nHeldOut: number;
  /** the data distribution's entropy in nats per example, when known */
  entropy: number | null;
  /** how stored integers map to model space; null for continuous data */
  quantization: Quantization | null;
}

const HELD_OUT = 1000;

async function gmmRows(model: GmmModel, n: number, rng: Rng): Promise<Float64Array> {
  const x = model.sample(rng, referenceBackend(), n, "f64");
  const rows = Float64Array.from(await x.read());
  x.dispose();
  return rows;
}

export async function resolveTrainData(
  spec: string,
  nTrain: number,
  rng: Rng,
  sde: Sde,
): Promise<TrainData> {
  if (spec.startsWith("toy:")) {
    const name = parseToySpec(spec);
    const heldOut = toyDataset(name, HELD_OUT, rng.derive("heldout"));
    return {
      train: toyDataset(name, nTrain, rng.derive("train")),
      heldOut: heldOut.batch(Array.from({ length: HELD_OUT }, (_, i) => i)),
      nHeldOut: HELD_OUT,
      entropy: null,
      quantization: null,
    };
  }
  if (isImageSpec(spec)) {
    const [train, test] = [await loadImageSpec(spec, "train"), await loadImageSpec(spec, "test")];
    const q = { ...EIGHT_BIT_SYMMETRIC, bits: train.bits, a: 2 / 2 ** train.bits };
    return {
      train: imageDataset(train),
      // at most HELD_OUT test images as floats (all 10 000 of CIFAR-10's would take 245 MB)
      heldOut: imageDataset(test).batch(
        Array.from({ length: Math.min(test.n, HELD_OUT) }, (_, i) => i),
      ),
      nHeldOut: Math.min(test.n, HELD_OUT),
      entropy: null,
      quantization: q,
    };
  }
  if (spec.startsWith("gmm:")) {
    const model = new GmmModel(await loadGmmSpec(spec.slice(4)), sde);
    // a labelled mixture's training rows come with their classes (data/gmm_classes.ts)
    const labelled = model.classes
      ? await sampleLabelled(model, rng.derive("train"), referenceBackend(), nTrain)
      : null;
    const train = labelled?.rows ?? await gmmRows(model, nTrain, rng.derive("train"));
    const heldOut = await gmmRows(model, HELD_OUT, rng.derive("heldout"));
    // entropy by Monte Carlo over 20 000 fresh points (standard error ~0.01 nats in 2-D)
    const probe = await gmmRows(model, 20000, rng.derive("entropy"));
    const D = sizeOf(model.shape);
    let h = 0;
    for (let i = 0; i < 20000; i++) h -= model.logpHost([...probe.subarray(i * D, (i + 1) * D)], 0);
    const points = pointsDataset({
      data: train,
      n: nTrain,
      shape: [...model.shape],
      discrete: false,
    }, `${spec} (${nTrain} samples${labelled ? `, ${model.classes} classes` : ""})`);
    return {
      train: labelled ? withLabels(points, labelled.labels, model.classes!) : points,
      heldOut,
      nHeldOut: HELD_OUT,
      entropy: h / 20000,
      quantization: null,
    };
  }
  if (spec.startsWith("points:")) {
    const p = await loadPoints(spec.slice(7));
    const nTest = Math.max(1, Math.floor(p.n / 10));
    const d = sizeOf(p.shape);
    const nTr = p.n - nTest;
    if (nTr < 1) throw new UsageError(`${spec}: too few examples (${p.n}) to hold out a test set`);
    return {
      train: pointsDataset(
        { ...p, data: p.data.subarray(0, nTr * d), n: nTr },
        `${spec} (${nTr} training rows)`,
      ),
      heldOut: p.data.subarray(nTr * d),
      nHeldOut: nTest,
      entropy: null,
      // integer points are levels of unit bins (y = k), like eval-nll's points: data
      quantization: p.discrete ? { bits: 0, a: 1, b: 0 } : null,
    };
  }
  throw new UsageError(
    `--data ${JSON.stringify(spec)}: expected toy:NAME, gmm:FILE.json, points:FILE, mnist, ` +
      "fashion-mnist[:DIR], cifar10:DIR, imagenet32:DIR or images:DIR",
  );
}
