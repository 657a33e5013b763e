/**
 * EDM's network snapshots (`network-snapshot-*.pkl`, NVlabs/edm's training loop: a pickle of
 * `dict(ema=…, loss_fn=…, augment_pipe=…, dataset_kwargs=…)`) as an `edm` network. The `ema`
 * entry is a persistence-wrapped precond module (`EDMPrecond`, `VPPrecond` or `VEPrecond`)
 * whose pickled state holds its attributes (σ range, β, σ_data), its constructor kwargs and
 * its submodule `model` (`SongUNet` or `DhariwalUNet`, with its own kwargs), all decoded by
 * io/pickle.ts as named placeholders without running anything. The configuration is read from
 * those kwargs (EDM's defaults filling what was not passed), and every tensor of the module
 * tree is checked by name and shape against the architecture it implies.
 */

import { InputError } from "../../io/errors.ts";
import { describe, isCall, type PickleCall, type PickleValue } from "../../io/pickle.ts";
import { flattenTensors, float32Of } from "../../io/torch_file.ts";
import {
  DHARIWAL_UNET_DEFAULTS,
  type EdmConfig,
  type EdmPrecond,
  SONG_UNET_DEFAULTS,
} from "../edm/config.ts";
import { edmShapes } from "../edm/edm.ts";
import { vpSigma } from "../edm/precond.ts";

/** The imported network: its configuration and weights by state-dict name. */
export interface EdmSnapshot {
  config: EdmConfig;
  params: Map<string, { data: Float32Array; shape: number[] }>;
  /** the precond's class name, e.g. "EDMPrecond" */
  precondClass: string;
}

/** The range EDM's sampler uses where the precond allows any σ (EDMPrecond's 0 and ∞). */
export const EDM_SAMPLER_SIGMA = { min: 0.002, max: 80 };

const PRECONDS = ["EDMPrecond", "VPPrecond", "VEPrecond"];

/** Reads a decoded snapshot (`readTorchFile`'s value); every defect names `file`. */
export function edmSnapshot(root: PickleValue, file: string): EdmSnapshot {
  const fail = (what: string): never => {
    throw new InputError(`${file}: ${what}`);
  };
  if (!(root instanceof Map) || !root.has("ema")) {
    fail(
      `expected an EDM network snapshot, a pickled dict with an "ema" entry; found ${
        describe(root)
      }`,
    );
  }
  const ema = (root as Map<PickleValue, PickleValue>).get("ema");
  const precondClass = classOf(ema);
  if (precondClass === "iDDPMPrecond") {
    fail("iDDPMPrecond (rounded σ on a 1000-step grid) is not supported");
  }
  if (!PRECONDS.includes(precondClass ?? "")) {
    fail(
      `"ema" must be one of EDM's ${PRECONDS.join(", ")} modules, found ${describe(ema)}${
        precondClass ? ` (${precondClass})` : ""
      }`,
    );
  }
  const state = stateOf(ema as PickleCall, "ema", fail);
  const model = (state.get("_modules") as Map<PickleValue, PickleValue> | undefined)?.get("model");
  const modelClass = classOf(model);
  if (modelClass !== "SongUNet" && modelClass !== "DhariwalUNet") {
    fail(
      `ema.model must be EDM's SongUNet or DhariwalUNet, found ${describe(model)}${
        modelClass ? ` (${modelClass})` : ""
      }`,
    );
  }
  const kw = kwargsOf(stateOf(model as PickleCall, "ema.model", fail), "ema.model", fail);
  const read = reader(kw, `ema.model (${modelClass})`, fail);
  const channels = read.int("in_channels");
  if (read.int("out_channels") !== channels) {
    fail(
      `ema.model has ${channels} input but ${
        read.int("out_channels")
      } output channels (only D(x) of the same shape is supported)`,
    );
  }
  const classes = read.int("label_dim", 0);
  const precond = precondOf(precondClass!, state, fail);
  const base = modelClass === "SongUNet" ? SONG_UNET_DEFAULTS : DHARIWAL_UNET_DEFAULTS;
  const common = {
    modelChannels: read.int("model_channels", base.modelChannels),
    channelMult: read.ints("channel_mult", base.channelMult),
    channelMultEmb: read.int("channel_mult_emb", base.channelMultEmb),
    numBlocks: read.int("num_blocks", base.numBlocks),
    attnResolutions: read.ints("attn_resolutions", base.attnResolutions),
    augmentDim: read.int("augment_dim", 0),
  };
  const d = SONG_UNET_DEFAULTS;
  const unet: EdmConfig["unet"] = modelClass === "DhariwalUNet"
    ? { type: "DhariwalUNet", ...common }
    : {
      type: "SongUNet",
      ...common,
      embeddingType: read.choice("embedding_type", ["positional", "fourier"], d.embeddingType),
      channelMultNoise: read.int("channel_mult_noise", d.channelMultNoise),
      encoderType: read.choice("encoder_type", ["standard", "skip", "residual"], d.encoderType),
      decoderType: read.choice("decoder_type", ["standard", "skip"], d.decoderType),
      resampleFilter: read.ints("resample_filter", d.resampleFilter),
    };
  const range = sigmaRange(precond, state);
  const config: EdmConfig = {
    resolution: read.int("img_resolution"),
    channels,
    ...(classes > 0 ? { classes } : {}),
    precond,
    unet,
    sigmaMin: range.min,
    sigmaMax: range.max,
  };
  return { config, params: checkedTensors(model!, config, fail), precondClass: precondClass! };
}

function classOf(v: PickleValue | undefined): string | null {
  return isCall(v) ? v.className : null;
}

function stateOf(
  call: PickleCall,
  what: string,
  fail: (m: string) => never,
): Map<PickleValue, PickleValue> {
  if (!(call.state instanceof Map)) {
    fail(`${what} carries no module state (found ${describe(call.state)})`);
  }
  return call.state as Map<PickleValue, PickleValue>;
}

function kwargsOf(state: Map<PickleValue, PickleValue>, what: string, fail: (m: string) => never) {
  const kw = state.get("_init_kwargs");
  if (!(kw instanceof Map)) {
    fail(`${what} has no recorded constructor kwargs (_init_kwargs), found ${describe(kw)}`);
  }
  return kw as Map<PickleValue, PickleValue>;
}

/** Typed reads of a kwargs or attribute dict, with defaults, failing with the key's name. */
function reader(m: Map<PickleValue, PickleValue>, what: string, fail: (m: string) => never) {
  const get = (key: string, fallback?: unknown) => {
    const v = m.get(key);
    if (v !== undefined) return v;
    if (fallback === undefined) fail(`${what}: no ${key}`);
    return fallback;
  };
  const isInt = (v: unknown): v is number =>
    typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  return {
    int(key: string, fallback?: number): number {
      const v = get(key, fallback);
      if (!isInt(v)) {
        fail(`${what}: ${key} must be a non-negative integer, found ${describe(v as PickleValue)}`);
      }
      return v as number;
    },
    ints(key: string, fallback?: number[]): number[] {
      const v = get(key, fallback);
      if (!Array.isArray(v) || !v.every(isInt)) {
        fail(`${what}: ${key} must be a list of integers, found ${describe(v as PickleValue)}`);
      }
      return [...(v as number[])];
    },
    num(key: string, fallback?: number): number {
      const v = get(key, fallback);
      if (typeof v !== "number" || Number.isNaN(v)) {
        fail(`${what}: ${key} must be a number, found ${describe(v as PickleValue)}`);
      }
      return v as number;
    },
    choice<T extends string>(key: string, allowed: T[], fallback: T): T {
      const v = get(key, fallback);
      if (!allowed.includes(v as T)) {
        fail(
          `${what}: ${key} must be one of ${allowed.join(", ")}, found ${
            describe(v as PickleValue)
          }`,
        );
      }
      return v as T;
    },
  };
}

/** The precond's constants, from its attributes (set by its constructor from the kwargs). */
function precondOf(
  cls: string,
  state: Map<PickleValue, PickleValue>,
  fail: (m: string) => never,
): EdmPrecond {
  const read = reader(state, `ema (${cls})`, fail);
  if (cls === "EDMPrecond") return { kind: "edm", sigmaData: read.num("sigma_data", 0.5) };
  if (cls === "VEPrecond") return { kind: "ve" };
  return {
    kind: "vp",
    betaD: read.num("beta_d", 19.9),
    betaMin: read.num("beta_min", 0.1),
    M: read.int("M", 1000),
    epsilonT: read.num("epsilon_t", 1e-5),
  };
}

/** The process's σ range: the precond's own (EDMPrecond's unbounded default: EDM's sampler's). */
function sigmaRange(
  p: EdmPrecond,
  state: Map<PickleValue, PickleValue>,
): { min: number; max: number } {
  if (p.kind === "vp") return { min: vpSigma(p, p.epsilonT), max: vpSigma(p, 1) };
  const lo = state.get("sigma_min"), hi = state.get("sigma_max");
  if (p.kind === "ve") {
    return { min: typeof lo === "number" ? lo : 0.02, max: typeof hi === "number" ? hi : 100 };
  }
  return {
    min: typeof lo === "number" && lo > 0 ? lo : EDM_SAMPLER_SIGMA.min,
    max: typeof hi === "number" && Number.isFinite(hi) ? hi : EDM_SAMPLER_SIGMA.max,
  };
}

/** The module tree's tensors, each checked against the configuration's names and shapes. */
function checkedTensors(model: PickleValue, config: EdmConfig, fail: (m: string) => never) {
  const found = flattenTensors(model, "model");
  const expected = edmShapes(config);
  const params = new Map<string, { data: Float32Array; shape: number[] }>();
  const u = config.unet;
  if (u.type === "SongUNet" && u.embeddingType === "fourier") {
    const freqs = found.get("model.map_noise.freqs");
    const half = (u.modelChannels * u.channelMultNoise) >> 1;
    if (!freqs || freqs.shape.length !== 1 || freqs.shape[0] !== half) {
      fail(
        `model.map_noise.freqs must have shape [${half}], found ${
          freqs ? `[${freqs.shape}]` : "none"
        }`,
      );
    }
    u.fourierFreqs = Array.from(float32Of(freqs!));
  }
  for (const [name, shape] of expected) {
    const t = found.get(name);
    if (!t) fail(`no tensor ${name} [${shape}] in the snapshot (its kwargs imply it)`);
    if (t!.shape.join() !== shape.join()) {
      fail(`${name} has shape [${t!.shape}], the snapshot's kwargs give [${shape}]`);
    }
    params.set(name, { data: Float32Array.from(float32Of(t!)), shape });
  }
  for (const [name, t] of found) {
    if (expected.has(name) || name === "model.map_noise.freqs") continue;
    if (name.endsWith(".resample_filter") && t.shape.length === 4) continue; // fixed by the kwargs
    fail(
      `unexpected tensor ${name} [${t.shape}] (not part of the architecture its kwargs describe)`,
    );
  }
  return params;
}
