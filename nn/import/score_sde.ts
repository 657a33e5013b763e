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
    fir_kernel: number[];
    progressive: "none" | "output_skip" | "residual";
    progressive_input: "none" | "input_skip" | "residual";
    progressive_combine: "sum" | "cat";
    ema_rate: number;
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
    fir_kernel: [1, 3, 3, 1],
    progressive: "none",
    progressive_input: "none",
    progressive_combine: "sum",
    ema_rate: 0.9999,
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
  data: Partial<ScoreSdeConfig["data"]> = {},
): ScoreSdeConfig => ({
  training: { ...c.training, sde },
  data: { ...c.data, ...data },
  model: { ...c.model, ...model },
});

/** NCSN++ on VP and sub-VP: DDPM++ with FIR resampling and the residual input pyramid. */
const NCSNPP_VP = { fir: true, progressive_input: "residual" } as const;
/** NCSN++ on VE: also Fourier features of σ, `scale_by_sigma`, EMA 0.999, and [0, 1] data. */
const NCSNPP_VE = {
  ...NCSNPP_VP,
  embedding_type: "fourier",
  scale_by_sigma: true,
  ema_rate: 0.999,
} as const;
const UNCENTERED = { centered: false };

/** score_sde's config files by their path under `configs/`, without `.py`. */
export const SCORE_SDE_CONFIGS: Record<string, ScoreSdeConfig> = {
  "vp/cifar10_ddpmpp_continuous": DDPMPP_CIFAR10,
  "vp/cifar10_ddpmpp_deep_continuous": withModel(DDPMPP_CIFAR10, "vpsde", { num_res_blocks: 8 }),
  "subvp/cifar10_ddpmpp_continuous": withModel(DDPMPP_CIFAR10, "subvpsde", {}),
  "subvp/cifar10_ddpmpp_deep_continuous": withModel(DDPMPP_CIFAR10, "subvpsde", {
    num_res_blocks: 8,
  }),
  "vp/cifar10_ncsnpp_continuous": withModel(DDPMPP_CIFAR10, "vpsde", NCSNPP_VP),
  "vp/cifar10_ncsnpp_deep_continuous": withModel(DDPMPP_CIFAR10, "vpsde", {
    ...NCSNPP_VP,
    num_res_blocks: 8,
  }),
  "subvp/cifar10_ncsnpp_continuous": withModel(DDPMPP_CIFAR10, "subvpsde", NCSNPP_VP),
  "subvp/cifar10_ncsnpp_deep_continuous": withModel(DDPMPP_CIFAR10, "subvpsde", {
    ...NCSNPP_VP,
    num_res_blocks: 8,
  }),
  "ve/cifar10_ncsnpp_continuous": withModel(DDPMPP_CIFAR10, "vesde", NCSNPP_VE, UNCENTERED),
  "ve/cifar10_ncsnpp_deep_continuous": withModel(DDPMPP_CIFAR10, "vesde", {
    ...NCSNPP_VE,
    num_res_blocks: 8,
  }, UNCENTERED),
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

/** The values score_sde accepts for its string fields (it lower-cases them first). */
const CHOICES = {
  resblock_type: ["biggan", "ddpm"],
  embedding_type: ["positional", "fourier"],
  progressive: ["none", "output_skip", "residual"],
  progressive_input: ["none", "input_skip", "residual"],
  progressive_combine: ["sum", "cat"],
} as const;

/**
 * The network config of a score_sde config; usage errors name the unsupported field. VE
 * networks are fed σ(t) of the config's own σ range; `data.centered = False` is accepted for VE
 * only, where it is an exact change of variables (docs/import_score_sde.md).
 */
export function ncsnppConfigOf(c: ScoreSdeConfig): NcsnppConfig {
  if (!c.training.continuous) {
    throw new UsageError(
      "training.continuous = False: discrete-time score_sde models are not imported",
    );
  }
  if (!["vpsde", "subvpsde", "vesde"].includes(c.training.sde)) {
    throw new UsageError(
      `training.sde = '${c.training.sde}': expected 'vpsde', 'subvpsde' or 'vesde'`,
    );
  }
  const ve = c.training.sde === "vesde";
  if (!c.data.centered && !ve) {
    throw new UsageError(
      `data.centered = False with training.sde = '${c.training.sde}': the network then models [0, 1] images, and this toolkit's data are on [−1, 1]; only for VE is that an exact change of variables (a VP process on [0, 1] is not one on [−1, 1])`,
    );
  }
  const m = { ...c.model };
  for (const [field, allowed] of Object.entries(CHOICES)) {
    const key = field as keyof typeof CHOICES;
    const v = String(m[key]).toLowerCase();
    if (!(allowed as readonly string[]).includes(v)) {
      throw new UsageError(`model.${field} = '${m[key]}': expected one of ${allowed.join(", ")}`);
    }
    (m as Record<string, unknown>)[key] = v;
  }
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
    firKernel: m.fir_kernel,
    progressive: m.progressive,
    progressiveInput: m.progressive_input,
    progressiveCombine: m.progressive_combine,
    timeInput: ve ? "sigma" : "999t",
    ...(ve ? { sigmaMin: m.sigma_min, sigmaMax: m.sigma_max } : {}),
  };
  const why = unsupportedNcsnpp(config);
  if (why) throw new UsageError(`this score_sde config is not supported yet: ${why}`);
  return config;
}

/**
 * The process of the imported model in this toolkit's data space ([−1, 1]): score_sde's own for
 * centred data; for VE on [0, 1] data (x = 2y − 1, so x_t = x + 2σ(t) ε) the σ range doubled.
 */
export function scoreSdeProcess(c: ScoreSdeConfig): {
  kind: "vp" | "subvp" | "ve";
  params: Record<string, number>;
} {
  const m = c.model;
  if (c.training.sde !== "vesde") {
    return {
      kind: c.training.sde === "vpsde" ? "vp" : "subvp",
      params: { beta0: m.beta_min, beta1: m.beta_max },
    };
  }
  const scale = c.data.centered ? 1 : 2;
  return { kind: "ve", params: { sigmaMin: scale * m.sigma_min, sigmaMax: scale * m.sigma_max } };
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
