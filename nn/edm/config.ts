/**
 * The configuration of an EDM network (Karras et al. 2022, NVlabs/edm `training/networks.py`)
 * as this toolkit stores it: the preconditioning wrapper (`EDMPrecond`, `VPPrecond` or
 * `VEPrecond`) with its constants, the U-Net inside it (`SongUNet` for DDPM++/NCSN++ or
 * `DhariwalUNet` for ADM) with the constructor arguments that shape it, and the σ range of the
 * VE process σ(t) = σ_min (σ_max/σ_min)^t the denoiser is run under (docs/import_edm.md).
 * Field names are EDM's keyword arguments, camel-cased.
 */

/** The preconditioning: how σ sets the network's input and output scales and noise input. */
export type EdmPrecond =
  | { kind: "edm"; sigmaData: number }
  | { kind: "vp"; betaD: number; betaMin: number; M: number; epsilonT: number }
  | { kind: "ve" };

/** `SongUNet`'s arguments (score_sde's DDPM++ and NCSN++, as EDM re-implements them). */
export interface SongUnetConfig {
  type: "SongUNet";
  modelChannels: number;
  channelMult: number[];
  channelMultEmb: number;
  numBlocks: number;
  attnResolutions: number[];
  embeddingType: "positional" | "fourier";
  channelMultNoise: number;
  encoderType: "standard" | "skip" | "residual";
  decoderType: "standard" | "skip";
  resampleFilter: number[];
  /** augmentation-label inputs: stored, fed nothing (no augmentation, as when sampling) */
  augmentDim: number;
  /** the Fourier embedding's fixed random frequencies (its `map_noise.freqs` buffer) */
  fourierFreqs?: number[];
}

/** `DhariwalUNet`'s arguments (ADM, Dhariwal & Nichol 2021). */
export interface DhariwalUnetConfig {
  type: "DhariwalUNet";
  modelChannels: number;
  channelMult: number[];
  channelMultEmb: number;
  numBlocks: number;
  attnResolutions: number[];
  augmentDim: number;
}

export interface EdmConfig {
  resolution: number;
  channels: number;
  /** label_dim of a class-conditional network; absent (or 0) when unconditional */
  classes?: number;
  precond: EdmPrecond;
  unet: SongUnetConfig | DhariwalUnetConfig;
  /** the σ range of the process the denoiser is run under (t = 0 and t = 1) */
  sigmaMin: number;
  sigmaMax: number;
}

/** SongUNet's defaults (EDM's keyword defaults). */
export const SONG_UNET_DEFAULTS: Omit<SongUnetConfig, "type"> = {
  modelChannels: 128,
  channelMult: [1, 2, 2, 2],
  channelMultEmb: 4,
  numBlocks: 4,
  attnResolutions: [16],
  embeddingType: "positional",
  channelMultNoise: 1,
  encoderType: "standard",
  decoderType: "standard",
  resampleFilter: [1, 1],
  augmentDim: 0,
};

/** DhariwalUNet's defaults. */
export const DHARIWAL_UNET_DEFAULTS: Omit<DhariwalUnetConfig, "type"> = {
  modelChannels: 192,
  channelMult: [1, 2, 3, 4],
  channelMultEmb: 4,
  numBlocks: 3,
  attnResolutions: [32, 16, 8],
  augmentDim: 0,
};

/** The number of classes, 0 when unconditional. */
export const labelDimOf = (c: EdmConfig): number => c.classes ?? 0;

/** One line for reports. */
export function describeEdm(c: EdmConfig): string {
  const u = c.unet;
  const arch = u.type === "SongUNet"
    ? `SongUNet (${u.embeddingType} embedding, ${u.encoderType} encoder, ${u.decoderType} decoder)`
    : "DhariwalUNet (ADM)";
  const classes = labelDimOf(c) > 0 ? `, ${c.classes} classes` : "";
  return `EDM ${arch} ${u.modelChannels}·[${u.channelMult}], ${u.numBlocks} blocks/level, attention at ${
    u.attnResolutions.join(",") || "none"
  }, ${c.precond.kind.toUpperCase()} preconditioning${classes}, σ ∈ [${c.sigmaMin}, ${c.sigmaMax}]`;
}
