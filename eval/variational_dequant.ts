/**
 * Variational dequantisation (ScoreFlow; docs/variational_dequantization.md): a learned
 * q_φ(u | k) over u ∈ [0, 1)^D, y = a(k + u) + b, and the bound
 *
 *   log P(k) ≥ log (1/K) Σ_i p_Y(y_i) a^D / q(u_i | k),   u_i ~ q(· | k),
 *
 * with p from the PF-ODE as for uniform dequantisation (the uniform case is q = 1). This file
 * holds the dequantiser's safetensors file, its draws as start points, and the K-draw evaluation
 * through the PF-ODE; the dequantiser itself is nn/dequantizer.ts, its training
 * train/dequantizer_train.ts.
 */

import {
  add,
  type Backend,
  type DType,
  keep,
  mapTree,
  mul,
  noGrad,
  referenceBackend,
  Rng,
  type Tensor,
  tensor,
} from "../compute/mod.ts";
import { flowShape, initCouplingFlow } from "../nn/coupling_flow.ts";
import {
  type DequantizerConfig,
  sampleOffsets,
  type VariationalDequantizer,
} from "../nn/dequantizer.ts";
import type { Quantization } from "../data/quantization.ts";
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from "../io/safetensors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { InputError } from "../io/errors.ts";
import type { DiffusionModel } from "../sde/model.ts";
import { evaluateNll, type ExampleResult, logMeanExp, type NllOptions } from "./nll.ts";
import type { DequantizedBatch } from "./dequantization.ts";
import type { Progress } from "../io/progress.ts";

export const DEQUANTIZER_FORMAT = "likelihood-dequantizer/1";

/** One draw per example, as eval/dequantization.ts returns them: y, log q(u | k) and D ln a. */
export function dequantizeVariational(
  d: VariationalDequantizer,
  k: Tensor,
  rng: Rng,
): DequantizedBatch {
  const q = d.config.quantization, D = k.size / k.shape[0];
  const { u, logq } = sampleOffsets(d, k, rng);
  return { x: add(mul(add(k, u), q.a), q.b), logq, logVolume: D * Math.log(q.a) };
}

/** The dequantiser file: weights under `params.…`, config as JSON in the metadata. */
export async function saveDequantizer(path: string, d: VariationalDequantizer): Promise<void> {
  const tensors: Record<string, SafeTensor> = {};
  const leaves: [string, Tensor][] = [];
  mapTree(d.params, (t, name) => (leaves.push([name, t]), t));
  for (const [name, t] of leaves) {
    const data = await t.read();
    tensors[`params.${name}`] = t.dtype === "f64"
      ? { dtype: "F64", shape: [...t.shape], data: Float64Array.from(data) }
      : { dtype: "F32", shape: [...t.shape], data: Float32Array.from(data) };
  }
  const metadata = { format: DEQUANTIZER_FORMAT, config: JSON.stringify(d.config) };
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export async function loadDequantizer(
  path: string,
  backend: Backend,
  dtype: DType,
): Promise<VariationalDequantizer> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new InputError(`${path}: cannot read the dequantizer file (${(e as Error).message})`);
  }
  const file = decodeSafetensors(bytes, path);
  if (file.metadata.format !== DEQUANTIZER_FORMAT) {
    throw new InputError(
      `${path}: expected a dequantizer file (metadata format ${DEQUANTIZER_FORMAT}, written by train-dequantizer), found format ${
        JSON.stringify(file.metadata.format ?? null)
      }`,
    );
  }
  let config: DequantizerConfig;
  try {
    config = JSON.parse(file.metadata.config);
  } catch {
    throw new InputError(`${path}: metadata "config" is not JSON text`);
  }
  const flow = config?.flow, q = config?.quantization;
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
  const flowOk = flow && count(flow.couplings) && count(flow.hidden) &&
    (flow.kind === "vector"
      ? count(flow.dim)
      : flow.kind === "image" && Array.isArray(flow.shape) && flow.shape.length === 3 &&
        flow.shape.every(count));
  if (!flowOk || !(q?.a > 0) || typeof q.b !== "number") {
    throw new InputError(
      `${path}: metadata "config" needs a flow (kind vector with dim, or image with shape [C, H, W]; positive integer couplings and hidden) and a quantization {a > 0, b}, found ${file.metadata.config}`,
    );
  }
  // a template on the host fixes names and shapes; the file's values replace its own
  const template = initCouplingFlow(referenceBackend(), Rng.fromSeed(0), config.flow, "f64");
  const params = mapTree(template, (t, name) => {
    const stored = file.tensors[`params.${name}`];
    if (!stored) throw new InputError(`${path}: tensor "params.${name}" is missing`);
    if (stored.shape.join(",") !== t.shape.join(",")) {
      throw new InputError(
        `${path}: tensor "params.${name}" has shape [${stored.shape}], expected [${t.shape}] (flow ${
          JSON.stringify(config.flow)
        })`,
      );
    }
    t.dispose();
    return keep(tensor(backend, stored.data, stored.shape, dtype));
  });
  return { config, params };
}

/** The draw stream of dequantisation draw j for a batch whose first global example is `first`. */
function drawStream(rng: Rng, j: number, first: number, D: number): Rng {
  // the keys of eval/nll.ts: uniform and variational runs of one seed share their uniforms
  return rng.derive("dequant").derive(j).at(first * D);
}

/**
 * log P(k) estimates of K importance-weighted draws, log (1/K) Σ_i exp(ℓ_i) with
 * ℓ_i = log p_Y(y_i) + D ln a − log q(u_i | k), for a density `logpY` known in closed form
 * (analytic models: what the PF-ODE would compute, without its solver error). Per example.
 */
export async function importanceWeightedLogProb(
  d: VariationalDequantizer | null,
  k: Tensor,
  samples: number,
  logpY: (y: Tensor) => Tensor,
  rng: Rng,
  firstIndex = 0,
  quantization: Quantization | null = d?.config.quantization ?? null,
): Promise<Float64Array> {
  const B = k.shape[0], D = k.size / B, q = quantization!;
  const terms: number[][] = Array.from({ length: B }, () => []);
  for (let j = 0; j < samples; j++) {
    const stream = drawStream(rng, j, firstIndex, D);
    const ell = noGrad(() => {
      // d = null: uniform dequantisation under the same keys
      const draw = d ? dequantizeVariational(d, k, stream) : {
        x: add(mul(add(k, stream.uniform(k.backend, k.shape, k.dtype)), q.a), q.b),
        logq: null,
        logVolume: D * Math.log(q.a),
      };
      const lp = logpY(draw.x);
      return { lp, logq: draw.logq, logVolume: draw.logVolume };
    });
    const lp = await ell.lp.read(), lq = ell.logq ? await ell.logq.read() : null;
    for (let i = 0; i < B; i++) terms[i].push(lp[i] + ell.logVolume - (lq ? lq[i] : 0));
  }
  return Float64Array.from(terms, (t) => logMeanExp(t));
}

/**
 * −log P(k) bounds through the PF-ODE with K = `o.dequantSamples` draws of q per example:
 * eval/nll.ts's loop with the learned q in place of a fixed one (probes averaged per draw, draws
 * combined by logmeanexp, every draw keyed by the example's global index as uniform ones are).
 */
export function evaluateVariationalNll(
  model: DiffusionModel,
  data: { values: Float64Array; n: number },
  d: VariationalDequantizer,
  o: Omit<NllOptions, "dequantization">,
  progress?: Progress,
): Promise<ExampleResult[]> {
  return evaluateNll(model, { ...data, quantization: d.config.quantization }, {
    ...o,
    dequantization: "variational",
    draw: (k, stream) => dequantizeVariational(d, k, stream),
  }, progress);
}

/** A dequantiser fits data of `shape` quantised as `q`; otherwise an InputError naming both. */
export function checkDequantizerFits(
  path: string,
  d: VariationalDequantizer,
  shape: readonly number[],
  q: Quantization,
): void {
  const own = flowShape(d.config.flow), dq = d.config.quantization;
  if (own.join(",") !== shape.join(",")) {
    throw new InputError(
      `${path}: the dequantizer was trained for examples of shape [${own}], the data have [${shape}]`,
    );
  }
  if (Math.abs(dq.a - q.a) > 1e-12 * q.a || Math.abs(dq.b - q.b) > 1e-12 * Math.max(1, q.b)) {
    throw new InputError(
      `${path}: the dequantizer was trained for y = ${dq.a}·k + ${dq.b}, the data use y = ${q.a}·k + ${q.b}`,
    );
  }
}

/** Loads a dequantiser and checks that it fits the data (shape and quantisation). */
export async function openDequantizer(
  path: string,
  backend: Backend,
  dtype: DType,
  data: { shape: readonly number[]; quantization: Quantization | null },
): Promise<VariationalDequantizer> {
  const d = await loadDequantizer(path, backend, dtype);
  if (!data.quantization) throw new InputError(`${path}: the data are not quantised`);
  checkDequantizerFits(path, d, data.shape, data.quantization);
  return d;
}

/** `evaluateVariationalNll` with `d` bound: the signature of eval/nll.ts's `evaluateNll`. */
export function variationalEvaluator(d: VariationalDequantizer) {
  return (
    model: DiffusionModel,
    data: { values: Float64Array; n: number },
    o: Omit<NllOptions, "dequantization">,
    progress?: Progress,
  ) => evaluateVariationalNll(model, data, d, o, progress);
}
