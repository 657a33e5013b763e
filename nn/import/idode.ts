/**
 * i-DODE's checkpoints (Zheng et al. 2023, github.com/thu-ml/i-DODE; docs/idode.md) mapped onto
 * the `vdm-unet` network (nn/vdm_unet.ts), a process and a parameterisation here.
 *
 * The file: clu's `Checkpoint.save` writes `checkpoints-0/ckpt-N.flax`, the MessagePack bytes of
 * `flax.serialization.to_bytes(TrainState)` — a map {step, params, ema_params, opt_state} whose
 * arrays are MessagePack extension 1 values holding (shape, dtype name, C-order bytes). The
 * network's weights sit under `params.score_model` (the encoder/decoder and the fixed noise
 * schedule have none).
 *
 * The weights fix the architecture (widths, depth, Fourier features, attention); the rest comes
 * from i-DODE's configuration (`config.model`): the γ range, the schedule (VP = VDM-γ, SP = the
 * straight path) and whether the network predicts the velocity or ε.
 */

import { InputError } from "../../io/errors.ts";
import { decodeMsgpack, isMsgpackExt, isMsgpackMap, type MsgpackValue } from "../../io/msgpack.ts";
import type { Parameterization } from "../../sde/model.ts";
import { invalidVdmUnet, type VdmUnetConfig, vdmUnetShapes } from "../vdm_unet.ts";

/** The fields of i-DODE's `config.model` that the import reads (names as there). */
export interface IdodeModelConfig {
  sm_n_embd: number;
  sm_n_layer: number;
  with_fourier_features: boolean;
  with_attention: boolean;
  gamma_min: number;
  gamma_max: number;
  schedule: "VP" | "SP";
  velocity: boolean;
  /**
   * Not an i-DODE field: the image size, which the dataset sets there (32 for all of its
   * datasets); the network is fully convolutional, so the weights do not fix it.
   */
  resolution: number;
}

/** i-DODE's four shipped configurations (configs/*.py); each trains VP unless told SP. */
const SHIPPED: IdodeModelConfig = {
  sm_n_embd: 128,
  sm_n_layer: 32,
  with_fourier_features: true,
  with_attention: false,
  gamma_min: -13.3,
  gamma_max: 5,
  schedule: "VP",
  velocity: true,
  resolution: 32,
};
export const IDODE_CONFIGS: Record<string, IdodeModelConfig> = {
  cifar10: SHIPPED,
  cifar10_aug: SHIPPED,
  imagenet32: SHIPPED,
  imagenet32_new: SHIPPED,
  "cifar10-sp": { ...SHIPPED, schedule: "SP" },
  "imagenet32-sp": { ...SHIPPED, schedule: "SP" },
  "imagenet32_new-sp": { ...SHIPPED, schedule: "SP" },
};

/**
 * A JSON file of `config.model` fields; absent fields take the shipped configurations' values
 * (so `{"schedule": "SP"}` is i-DODE's `--config.model.schedule="SP"`).
 */
export function parseIdodeConfig(json: unknown, file: string): IdodeModelConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new InputError(`${file}: expected an object of i-DODE's config.model fields`);
  }
  const c = { ...SHIPPED } as Record<string, unknown>;
  for (const [key, value] of Object.entries(json)) {
    if (!(key in SHIPPED)) {
      // fields that shape training or evaluation only, not the network or the process
      if (IGNORED_FIELDS.includes(key)) continue;
      throw new InputError(
        `${file}: unknown field ${JSON.stringify(key)} (expected ${
          Object.keys(SHIPPED).join(", ")
        })`,
      );
    }
    const shipped = (SHIPPED as unknown as Record<string, unknown>)[key];
    const expected = typeof shipped;
    if (typeof value !== typeof shipped) {
      throw new InputError(`${file}: ${key} must be a ${expected}, found ${JSON.stringify(value)}`);
    }
    c[key] = value;
  }
  if (c.schedule !== "VP" && c.schedule !== "SP") {
    throw new InputError(
      `${file}: schedule must be "VP" or "SP", found ${JSON.stringify(c.schedule)}`,
    );
  }
  if (
    !(Number.isFinite(c.gamma_min) && Number.isFinite(c.gamma_max) &&
      (c.gamma_max as number) > (c.gamma_min as number))
  ) {
    throw new InputError(
      `${file}: need finite gamma_min < gamma_max, found ${c.gamma_min}, ${c.gamma_max}`,
    );
  }
  if (!(Number.isInteger(c.resolution) && (c.resolution as number) > 0)) {
    throw new InputError(`${file}: resolution must be a positive integer, found ${c.resolution}`);
  }
  return c as unknown as IdodeModelConfig;
}

const IGNORED_FIELDS = [
  "vocab_size",
  "sample_softmax",
  "antithetic_time_sampling",
  "gamma_type",
  "sm_n_timesteps",
  "sm_pdrop",
  "second_order",
  "importance",
  "dequantization",
  "num_importance",
];

/** One decoded array: row-major values and the original shape. */
export interface FlaxArray {
  shape: number[];
  data: Float64Array;
}

/** A flax training state: its step and the score network's raw and EMA weights by flax path. */
export interface IdodeState {
  step: number;
  params: Map<string, FlaxArray>;
  ema: Map<string, FlaxArray>;
}

const DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  float64: 8,
  int32: 4,
  int64: 8,
};

/** Flax's ndarray extension (code 1): msgpack (shape, dtype name, bytes). */
function flaxArray(v: MsgpackValue, file: string, name: string): FlaxArray {
  if (isMsgpackMap(v) && "__msgpack_chunked_array__" in v) {
    throw new InputError(`${file}: ${name} is a chunked array (over 1 GiB), which is not read`);
  }
  if (!isMsgpackExt(v) || v.ext !== 1) {
    throw new InputError(`${file}: ${name} is not a flax array (MessagePack extension 1)`);
  }
  const inner = decodeMsgpack(v.data, `${file} (${name})`);
  if (!Array.isArray(inner) || inner.length !== 3) {
    throw new InputError(`${file}: ${name}: expected (shape, dtype, bytes)`);
  }
  const [shape, dtypeName, bytes] = inner;
  const dtype = typeof dtypeName === "string"
    ? dtypeName
    : dtypeName instanceof Uint8Array
    ? new TextDecoder().decode(dtypeName)
    : "";
  if (
    !Array.isArray(shape) || !shape.every((d) => typeof d === "number" && d >= 0) ||
    !(bytes instanceof Uint8Array) || !(dtype in DTYPE_BYTES)
  ) {
    throw new InputError(
      `${file}: ${name}: an array of dtype ${JSON.stringify(dtype)} (expected ${
        Object.keys(DTYPE_BYTES).join(", ")
      })`,
    );
  }
  const dims = shape as number[], n = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== n * DTYPE_BYTES[dtype]) {
    throw new InputError(
      `${file}: ${name}: [${dims}] ${dtype} needs ${
        n * DTYPE_BYTES[dtype]
      } bytes, found ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    data[i] = dtype === "float32"
      ? view.getFloat32(4 * i, true)
      : dtype === "float64"
      ? view.getFloat64(8 * i, true)
      : dtype === "int32"
      ? view.getInt32(4 * i, true)
      : Number(view.getBigInt64(8 * i, true));
  }
  return { shape: dims, data };
}

/** Every array below `tree`, by its "/"-joined path. */
function flatten(tree: MsgpackValue, file: string, prefix: string): Map<string, FlaxArray> {
  const out = new Map<string, FlaxArray>();
  const walk = (v: MsgpackValue, path: string) => {
    if (isMsgpackMap(v) && !("__msgpack_chunked_array__" in v)) {
      for (const [k, child] of Object.entries(v)) walk(child, path ? `${path}/${k}` : k);
    } else out.set(path, flaxArray(v, file, `${prefix}/${path}`));
  };
  walk(tree, "");
  return out;
}

/** Reads the training state of `ckpt-N.flax` bytes. */
export function readIdodeState(bytes: Uint8Array, file: string): IdodeState {
  const root = decodeMsgpack(bytes, file);
  if (!isMsgpackMap(root) || !("params" in root) || !("ema_params" in root)) {
    throw new InputError(
      `${file}: not an i-DODE training state (expected a flax TrainState with params and ema_params)`,
    );
  }
  const scoreModel = (key: string) => {
    const tree = root[key];
    if (!isMsgpackMap(tree) || !isMsgpackMap(tree.score_model)) {
      throw new InputError(
        `${file}: ${key} has no score_model (found ${
          isMsgpackMap(tree) ? Object.keys(tree).join(", ") : typeof tree
        })`,
      );
    }
    return flatten(tree.score_model, file, `${key}/score_model`);
  };
  const stepValue = root.step;
  let step = 0;
  if (typeof stepValue === "number") step = stepValue;
  else if (stepValue !== undefined && stepValue !== null) {
    const s = flaxArray(stepValue, file, "step");
    if (s.data.length !== 1) throw new InputError(`${file}: step has ${s.data.length} values`);
    step = s.data[0];
  }
  return { step, params: scoreModel("params"), ema: scoreModel("ema_params") };
}

/** The network, process and parameterisation of a checkpoint here. */
export interface IdodeMapping {
  network: VdmUnetConfig;
  sde: { kind: "vdm" | "sp"; params: { gammaMin: number; gammaMax: number } };
  param: Parameterization;
}

/**
 * The network's configuration from its weights, checked against the configuration's fields;
 * the process from the schedule; the parameterisation from `velocity` (VP's velocity is this
 * toolkit's F = αε − σx0; SP's F = (ε − x0)/√2 is turned into ε̂ inside the network).
 */
export function idodeMapping(
  c: IdodeModelConfig,
  weights: Map<string, FlaxArray>,
  file: string,
): IdodeMapping {
  const shape = (name: string) => {
    const w = weights.get(name);
    if (!w) throw new InputError(`${file}: the score network has no ${name}`);
    return w.shape;
  };
  const convIn = shape("conv_in/kernel"), convOut = shape("conv_out/kernel");
  const nEmbd = convIn[3], channels = convOut[3];
  let nLayer = 0;
  while (weights.has(`down.block_${nLayer}/conv1/kernel`)) nLayer++;
  const fourierFeatures = convIn[2] !== channels;
  const attention = weights.has("up.attn_0/q/kernel");
  const found = { sm_n_embd: nEmbd, sm_n_layer: nLayer, with_fourier_features: fourierFeatures };
  for (const [field, value] of Object.entries(found)) {
    const want = (c as unknown as Record<string, unknown>)[field];
    if (want !== value) {
      throw new InputError(
        `${file}: the configuration says ${field} = ${want}, the weights have ${value}`,
      );
    }
  }
  if (c.with_attention !== attention) {
    throw new InputError(
      `${file}: the configuration says with_attention = ${c.with_attention}, the weights have ${
        attention ? "" : "no "
      }attention blocks`,
    );
  }
  const network: VdmUnetConfig = {
    resolution: c.resolution,
    channels,
    nEmbd,
    nLayer,
    fourierFeatures,
    attention,
    output: c.velocity && c.schedule === "SP" ? "sp-eps" : "raw",
    gammaMin: c.gamma_min,
    gammaMax: c.gamma_max,
  };
  const invalid = invalidVdmUnet(network);
  if (invalid) throw new InputError(`${file}: ${invalid}`);
  return {
    network,
    sde: {
      kind: c.schedule === "SP" ? "sp" : "vdm",
      params: { gammaMin: c.gamma_min, gammaMax: c.gamma_max },
    },
    param: c.velocity && c.schedule === "VP" ? "velocity" : "eps",
  };
}

/**
 * The weights by their names here, float32, every name and shape checked against the network:
 * convolution kernels go from flax's [kh, kw, in, out] to [out, in, kh, kw]; the rest as stored.
 */
export function idodeWeights(
  weights: Map<string, FlaxArray>,
  network: VdmUnetConfig,
  file: string,
): Map<string, { shape: number[]; data: Float32Array }> {
  const want = vdmUnetShapes(network);
  for (const name of weights.keys()) {
    if (!want.has(name)) throw new InputError(`${file}: unexpected parameter ${name}`);
  }
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of want) {
    const w = weights.get(name);
    if (!w) throw new InputError(`${file}: missing parameter ${name} [${shape}]`);
    const isConv = shape.length === 4;
    const stored = isConv ? [shape[2], shape[3], shape[1], shape[0]] : shape;
    if (w.shape.join() !== stored.join()) {
      throw new InputError(`${file}: ${name} is [${w.shape}], expected [${stored}]`);
    }
    const data = new Float32Array(w.data.length);
    if (!isConv) data.set(w.data);
    else {
      const [o, i, kh, kw] = shape;
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          for (let c = 0; c < i; c++) {
            for (let k = 0; k < o; k++) {
              data[((k * i + c) * kh + y) * kw + x] = w.data[((y * kw + x) * i + c) * o + k];
            }
          }
        }
      }
    }
    out.set(name, { shape, data });
  }
  return out;
}
