/**
 * Building a process from its kind and constants (docs/MATH.md §1), and back from the
 * `{kind, params}` JSON that reports and checkpoints carry. Typed, not a string registry:
 * each kind's parameters and checks are spelled out below.
 */

import type { Sde, SdeKind } from "./sde.ts";
import { VpSde } from "./vp.ts";
import { SubVpSde } from "./subvp.ts";
import { VeSde } from "./ve.ts";
import { VdmSde } from "./vdm.ts";
import { SpSde } from "./sp.ts";

/** Every process's constants, by kind; the names are those of `sde.params`. */
export interface SdeParams {
  vp: { beta0: number; beta1: number };
  subvp: { beta0: number; beta1: number };
  ve: { sigmaMin: number; sigmaMax: number };
  vdm: { gammaMin: number; gammaMax: number };
  sp: { gammaMin: number; gammaMax: number };
}

/** The serialised form: `sdeFromJson(sdeToJson(sde))` rebuilds an identical process. */
export interface SdeJson {
  kind: SdeKind;
  params: Record<string, number>;
}

export const SDE_KINDS: readonly SdeKind[] = ["vp", "subvp", "ve", "vdm", "sp"];

const PARAM_NAMES: { [K in SdeKind]: readonly (keyof SdeParams[K])[] } = {
  vp: ["beta0", "beta1"],
  subvp: ["beta0", "beta1"],
  ve: ["sigmaMin", "sigmaMax"],
  vdm: ["gammaMin", "gammaMax"],
  sp: ["gammaMin", "gammaMax"],
};

/** The constructors take `undefined` as "the paper's default". */
const CONSTRUCT: { [K in SdeKind]: (p: Partial<SdeParams[K]>) => Sde } = {
  vp: (p) => new VpSde(p.beta0, p.beta1),
  subvp: (p) => new SubVpSde(p.beta0, p.beta1),
  ve: (p) => new VeSde(p.sigmaMin, p.sigmaMax),
  vdm: (p) => new VdmSde(p.gammaMin, p.gammaMax),
  sp: (p) => new SpSde(p.gammaMin, p.gammaMax),
};

/** [name, requirement in words, test] per kind, checked on the constructed `params`. */
type Check = [string, string, (p: Record<string, number>) => boolean];
const CHECKS: { [K in SdeKind]: Check[] } = {
  vp: betaChecks(),
  subvp: betaChecks(),
  ve: [
    ["sigmaMin", "a finite number > 0", (p) => p.sigmaMin > 0],
    // σmax = σmin would make g ≡ 0: no diffusion at all
    ["sigmaMax", "a finite number > sigmaMin", (p) => p.sigmaMax > p.sigmaMin],
  ],
  vdm: gammaChecks(),
  sp: gammaChecks(),
};

function gammaChecks(): Check[] {
  return [
    ["gammaMin", "a finite number", () => true],
    ["gammaMax", "a finite number > gammaMin", (p) => p.gammaMax > p.gammaMin],
  ];
}

function betaChecks(): Check[] {
  return [
    // β0 > 0 keeps λ⁻¹'s root 2B/(β0 + √(β0² + 2dB)) away from 0/0 at λ = ∞
    ["beta0", "a finite number > 0", (p) => p.beta0 > 0],
    ["beta1", "a finite number ≥ beta0", (p) => p.beta1 >= p.beta0],
  ];
}

/** The process of `kind` with the given constants (the rest default); throws on bad values. */
export function makeSde<K extends SdeKind>(kind: K, params: Partial<SdeParams[K]> = {}): Sde {
  if (!SDE_KINDS.includes(kind)) {
    throw new Error(`unknown SDE kind ${JSON.stringify(kind)} (expected ${SDE_KINDS.join(", ")})`);
  }
  const names = PARAM_NAMES[kind] as readonly string[];
  for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
    if (!names.includes(name)) {
      throw new Error(
        `${kind} SDE: unknown parameter ${JSON.stringify(name)} (expected ${names.join(", ")})`,
      );
    }
    if (value !== undefined && typeof value !== "number") {
      throw new Error(`${kind} SDE: ${name} must be a number, found ${JSON.stringify(value)}`);
    }
  }
  const sde = CONSTRUCT[kind](params);
  const p = sde.params as Record<string, number>;
  for (const [name, expected, ok] of CHECKS[kind]) {
    if (!Number.isFinite(p[name]) || !ok(p)) {
      throw new Error(`${kind} SDE: ${name} must be ${expected}, found ${p[name]}`);
    }
  }
  return sde;
}

export function sdeToJson(sde: Sde): SdeJson {
  return { kind: sde.kind, params: { ...sde.params } };
}

/** Rebuilds a process from parsed JSON, with the same checks as `makeSde`. */
export function sdeFromJson(json: unknown): Sde {
  if (typeof json !== "object" || json === null || !("kind" in json)) {
    throw new Error(`SDE JSON must be an object {kind, params}, found ${JSON.stringify(json)}`);
  }
  const { kind, params = {} } = json as { kind: unknown; params?: unknown };
  if (typeof params !== "object" || params === null) {
    throw new Error(`SDE JSON: params must be an object, found ${JSON.stringify(params)}`);
  }
  return makeSde(kind as SdeKind, params as Partial<SdeParams[SdeKind]>);
}

/**
 * Default t_min per process, for likelihood work (eval-nll, the bound, training) and for
 * sampling (docs/MATH.md §1), read off the default processes so the table cannot drift from them.
 */
export const DEFAULT_T_MIN: Readonly<Record<SdeKind, { likelihood: number; sampling: number }>> =
  Object.fromEntries(SDE_KINDS.map((kind) => {
    const sde = makeSde(kind);
    return [kind, { likelihood: sde.tMinLikelihood, sampling: sde.tMinSampling }];
  })) as Record<SdeKind, { likelihood: number; sampling: number }>;
