/**
 * The covariance head of Likelihood Matching (docs/MATH.md §3.5): a second, lighter network that
 * predicts the denoising covariance C(x_t, t) ≈ Cov[x_0 | x_t] = diag(d) + U Uᵀ with
 * d = softplus(·) > 0 and U ∈ R^{D×r} (`--rank r`; 0 = diagonal only). One head serves every
 * step size: the step's matrix M = c1 I + c2 C is formed from it (sde/lm/transition.ts).
 *
 * Scale: C is written as κ_t (diag(softplus(h)) + V Vᵀ) with κ_t = σ_t²/(α_t² + σ_t²), the
 * posterior variance of unit-variance Gaussian data. Cov[x_0 | x_t] spans six decades between
 * t_min and T; with κ_t factored out the network's outputs stay O(1) at every t.
 */

import {
  add,
  type Backend,
  div,
  type DType,
  keep,
  mul,
  permute,
  reshape,
  type Rng,
  slice,
  softplus,
  sqrt,
  square,
  type Tensor,
} from "../compute/mod.ts";
import { perExample } from "../sde/parameterization.ts";
import type { Sde } from "../sde/sde.ts";
import type { LowRank } from "../sde/lm/transition.ts";
import { initConv2d } from "./conv2d.ts";
import { initNetwork, type NetworkConfig, networkForward, type NetworkParams } from "./network.ts";
import type { UnetParams } from "./unet.ts";

/**
 * The head's network for a score network's config: the same kind, half as wide, one block per
 * level and no attention for the U-Net, and an output of (1 + r) values per dimension.
 */
export function headNetwork(score: NetworkConfig, rank: number): NetworkConfig {
  if (score.kind === "mlp") {
    return { ...score, hidden: Math.max(16, score.hidden / 2), outDim: score.dim * (1 + rank) };
  }
  if (score.kind === "ncsnpp" || score.kind === "edm" || score.kind === "vdm-unet") {
    throw new Error("a covariance head is built for the mlp and unet networks only");
  }
  const base = Math.max(score.groups, Math.round(score.base / 2 / score.groups) * score.groups);
  return {
    ...score,
    base,
    resBlocks: 1,
    attnResolutions: [],
    dropout: 0,
    outChannels: score.channels * (1 + rank),
  };
}

export function initCovarianceHead(
  backend: Backend,
  rng: Rng,
  c: NetworkConfig,
  dtype: DType = "f32",
): NetworkParams {
  const p = initNetwork(backend, rng, c, dtype);
  if (c.kind === "unet") {
    // The U-Net zero-initialises its output, but C depends on U through U Uᵀ, whose gradient
    // vanishes at U = 0: a small random output layer lets U leave the origin.
    const u = p as UnetParams, old = u.output;
    u.output = initConv2d(
      backend,
      rng.derive("head-output"),
      old.w.shape[1],
      old.w.shape[0],
      3,
      dtype,
      0.1,
    );
    old.w.dispose();
    old.b.dispose();
    keep(u.output.w);
    keep(u.output.b);
  }
  return p;
}

/** C(x_t, t) = κ_t (diag(softplus(h)) + V Vᵀ) from the head at x [B, …shape], t [B]. */
export function covarianceHead(
  p: NetworkParams,
  c: NetworkConfig,
  rank: number,
  sde: Sde,
  x: Tensor,
  t: Tensor,
): LowRank {
  const B = x.shape[0], D = x.size / B;
  const out = networkForward(p, c, x, t);
  const { alpha, sigma } = sde.alphaSigmaT(t);
  const s2 = square(sigma);
  const kappa = div(s2, add(square(alpha), s2)); // [B]
  const flat = reshape(out, [B, D * (1 + rank)]);
  // the U-Net's channels are (1 + r) blocks of C: the first is h, the others U's columns
  const h = reshape(slice(flat, [0, 0], [B, D]), [B, D]);
  const d = mul2(softplus(h), kappa);
  if (rank === 0) return { d, u: null };
  const cols = reshape(slice(flat, [0, D], [B, D * (1 + rank)]), [B, rank, D]);
  const u = mul2(permute(cols, [0, 2, 1]), sqrt(kappa));
  return { d, u };
}

/** x [B, …] times per-example values v [B]. */
function mul2(x: Tensor, v: Tensor): Tensor {
  return mul(x, perExample(v, x));
}
