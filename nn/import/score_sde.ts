/**
 * score_sde_pytorch checkpoints (`checkpoint_N.pth`: `{model, ema, optimizer, step}` written by
 * torch.save) as an `ncsnpp` network: the configuration comes from one of score_sde's CIFAR-10
 * configs by name, or from a JSON file of the same fields; the weights are the EMA's shadow
 * parameters by default (score_sde evaluates and samples with them) or the raw model's.
 *
 * The EMA state holds its shadow parameters as a list in the order of `model.parameters()`
 * with `requires_grad`, i.e. the model's state-dict order without buffers (`sigmas`) and without
 * the frozen Gaussian-Fourier weights; they are named by that order and every shape is checked.
 */

import { InputError, UsageError } from "../../io/errors.ts";
import {
  flattenTensors,
  float32Of,
  type PickleValue,
  type TorchTensor,
} from "../../io/torch_file.ts";
import { type NcsnppConfig, ncsnppShapes, unsupportedNcsnpp } from "../ncsnpp.ts";

/** The fields of a score_sde config the import reads, grouped as there. */
export interface ScoreSdeConfig {
  training: { sde: "vpsde" | "subvpsde" | "vesde"; continuous: boolean };
  data: { image_size: number; num_channels: number; centered: boolean };
  model: {
    nf: number;
    ch_mult: number[];
    num_res_blocks: number;
    attn_resolutions: number[];
    resblock_type: "biggan" | "ddpm";
    embedding_type: "positional" | "fourier";
    fourier_scale: number;
    skip_rescale: boolean;
    resamp_with_conv: boolean;
    conditional: boolean;
    scale_by_sigma: boolean;
    fir: boolean;
    progressive: "none" | "output_skip" | "residual";
    progressive_input: "none" | "input_skip" | "residual";
    beta_min: number;
    beta_max: number;
    sigma_min: number;
    sigma_max: number;
  };
}

/** score_sde's `default_cifar10_configs` under its DDPM++ continuous configs. */
const DDPMPP_CIFAR10: ScoreSdeConfig = {
  training: { sde: "vpsde", continuous: true },
  data: { image_size: 32, num_channels: 3, centered: true },
  model: {
    nf: 128,
    ch_mult: [1, 2, 2, 2],
    num_res_blocks: 4,
    attn_resolutions: [16],
    resblock_type: "biggan",
    embedding_type: "positional",
    fourier_scale: 16,
    skip_rescale: true,
    resamp_with_conv: true,
    conditional: true,
    scale_by_sigma: false,
    fir: false,
    progressive: "none",
    progressive_input: "none",
    beta_min: 0.1,
    beta_max: 20,
    sigma_min: 0.01,
    sigma_max: 50,
  },
};

const withModel = (
  c: ScoreSdeConfig,
  sde: ScoreSdeConfig["training"]["sde"],
  model: Partial<ScoreSdeConfig["model"]>,
): ScoreSdeConfig => ({
  ...c,
  training: { ...c.training, sde },
  model: { ...c.model, ...model },
});

/** score_sde's config files by their path under `configs/`, without `.py`. */
export const SCORE_SDE_CONFIGS: Record<string, ScoreSdeConfig> = {
  "vp/cifar10_ddpmpp_continuous": DDPMPP_CIFAR10,
  "vp/cifar10_ddpmpp_deep_continuous": withModel(DDPMPP_CIFAR10, "vpsde", { num_res_blocks: 8 }),
  "subvp/cifar10_ddpmpp_continuous": withModel(DDPMPP_CIFAR10, "subvpsde", {}),
  "subvp/cifar10_ddpmpp_deep_continuous": withModel(DDPMPP_CIFAR10, "subvpsde", {
    num_res_blocks: 8,
  }),
};

/** A config file's JSON: every field of `ScoreSdeConfig`, checked by type, naming the file. */
export function parseScoreSdeConfig(json: unknown, file: string): ScoreSdeConfig {
  const fail = (path: string, expected: string, found: unknown): never => {
    throw new InputError(`${file}: ${path} must be ${expected}, found ${JSON.stringify(found)}`);
  };
  const section = (name: keyof ScoreSdeConfig) => {
    const v = (json as Record<string, unknown> | null)?.[name];
    if (typeof v !== "object" || v === null) fail(name, "an object", v);
    return v as Record<string, unknown>;
  };
  const out = structuredClone(DDPMPP_CIFAR10) as unknown as Record<string, Record<string, unknown>>;
  for (const name of ["training", "data", "model"] as const) {
    const given = section(name);
    for (const [key, fallback] of Object.entries(out[name])) {
      const v = given[key];
      if (v === undefined) fail(`${name}.${key}`, `given (like ${JSON.stringify(fallback)})`, v);
      const ok = Array.isArray(fallback)
        ? Array.isArray(v) && v.every((x) => Number.isInteger(x) && x > 0)
        : typeof v === typeof fallback;
      if (!ok) {
        fail(
          `${name}.${key}`,
          Array.isArray(fallback) ? "a list of integers" : `a ${typeof fallback}`,
          v,
        );
      }
      out[name][key] = v;
    }
  }
  return out as unknown as ScoreSdeConfig;
}

/** The network config of a score_sde config; usage errors name the unsupported field. */
export function ncsnppConfigOf(c: ScoreSdeConfig): NcsnppConfig {
  if (!c.training.continuous) {
    throw new UsageError(
      "training.continuous = False: discrete-time score_sde models are not imported",
    );
  }
  if (c.training.sde === "vesde") {
    // the network evaluates VE inputs (σ(t), scale_by_sigma), but no VE checkpoint has been
    // checked against the original yet
    throw new UsageError("training.sde = 'vesde': VE models are not imported yet");
  }
  if (!c.data.centered) {
    throw new UsageError(
      "data.centered = False: score_sde then models [0, 1] images, and this toolkit's image data are on [−1, 1]; not supported yet",
    );
  }
  const m = c.model;
  const config: NcsnppConfig = {
    resolution: c.data.image_size,
    channels: c.data.num_channels,
    nf: m.nf,
    chMult: m.ch_mult,
    numResBlocks: m.num_res_blocks,
    attnResolutions: m.attn_resolutions,
    resblockType: m.resblock_type,
    embeddingType: m.embedding_type,
    fourierScale: m.fourier_scale,
    skipRescale: m.skip_rescale,
    resampWithConv: m.resamp_with_conv,
    conditional: m.conditional,
    centered: c.data.centered,
    scaleBySigma: m.scale_by_sigma,
    fir: m.fir,
    progressive: m.progressive,
    progressiveInput: m.progressive_input,
    timeInput: "999t",
  };
  const why = unsupportedNcsnpp(config);
  if (why) throw new UsageError(`this score_sde config is not supported yet: ${why}`);
  return config;
}

export interface ImportedWeights {
  /** parameter name → values, every name of `ncsnppShapes(config)` */
  params: Map<string, { shape: number[]; data: Float32Array }>;
  step: number;
  /** which set was taken */
  weights: "ema" | "raw";
}

/** The weights of a decoded score_sde checkpoint, named and shape-checked against `config`. */
export function scoreSdeWeights(
  root: PickleValue,
  file: string,
  config: NcsnppConfig,
  weights: "ema" | "raw",
): ImportedWeights {
  if (!(root instanceof Map) || !root.has("model")) {
    throw new InputError(
      `${file}: not a score_sde checkpoint (expected a dict with model, ema, optimizer, step)`,
    );
  }
  const model = stripModule(flattenTensors(root.get("model")!));
  const shapes = ncsnppShapes(config);
  const byName = new Map<string, TorchTensor>();
  if (weights === "raw") {
    for (const name of shapes.keys()) {
      const t = model.get(name);
      if (!t) throw new InputError(`${file}: the model's state dict has no ${name}`);
      byName.set(name, t);
    }
  } else {
    const ema = root.get("ema");
    const shadow = ema instanceof Map ? ema.get("shadow_params") : undefined;
    if (!Array.isArray(shadow)) {
      throw new InputError(
        `${file}: no EMA shadow parameters (ema.shadow_params); try --weights raw`,
      );
    }
    // the trainable parameters in state-dict order: buffers (sigmas) and the frozen Fourier
    // projection are not among them
    const frozen = config.embeddingType === "fourier" ? "all_modules.0.W" : null;
    const trainable = [...model.keys()].filter((k) => shapes.has(k) && k !== frozen);
    if (trainable.length !== shadow.length) {
      throw new InputError(
        `${file}: ${shadow.length} EMA shadow parameters for ${trainable.length} trainable parameters of the configured network`,
      );
    }
    trainable.forEach((name, i) => byName.set(name, shadow[i] as TorchTensor));
    if (frozen) byName.set(frozen, model.get(frozen)!);
  }
  const params = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, want] of shapes) {
    const t = byName.get(name);
    if (!t || t.kind !== "tensor") throw new InputError(`${file}: no tensor for ${name}`);
    if (t.shape.join() !== want.join()) {
      throw new InputError(
        `${file}: ${name} has shape [${t.shape}], the configuration gives [${want}] (is --config right?)`,
      );
    }
    params.set(name, { shape: want, data: float32Of(t) });
  }
  const unused = [...model.keys()].filter((k) => !shapes.has(k) && k !== "sigmas");
  if (unused.length > 0) {
    throw new InputError(
      `${file}: the checkpoint has tensors the configured network lacks (${
        unused.slice(0, 3).join(", ")
      }${unused.length > 3 ? ", …" : ""}; is --config right?)`,
    );
  }
  const step = root.get("step");
  return { params, step: typeof step === "number" ? step : Number(step ?? 0), weights };
}

/** DataParallel's `module.` prefix removed from every name. */
function stripModule(m: Map<string, TorchTensor>): Map<string, TorchTensor> {
  return new Map([...m].map(([k, v]) => [k.startsWith("module.") ? k.slice(7) : k, v]));
}
