/**
 * The analytic mixture as a diffusion model (docs/MATH.md §6): for data Σ_k w_k N(μ_k, Σ_k) and any
 * linear process x_t = α x_0 + σ z, p_t(x) = Σ_k w_k N(x; α μ_k, C_k), C_k = α²Σ_k + σ²I.
 * Each Σ_k = U_k diag(λ_k) U_kᵀ is decomposed once on the host in float64; then
 * C_k⁻¹ = U_k diag(1/v_k) U_kᵀ and log det C_k = Σ_d log v_kd with v_k = α²λ_k + σ², so
 * log-density, score, denoising mean and sampling are a few differentiable tensor ops with
 * per-example α, σ on either backend. Device tensors are laid out [K, B, D] (component-major)
 * so that the rotations U_kᵀ are one batched matmul. A labelled mixture (`"classes"`) is
 * class-conditional: `withLabel(c)` is the exact mixture of class c's components
 * (data/gmm_classes.ts), `withLabel(null)` the whole mixture.
 */

import {
  add,
  type Backend,
  concat,
  div,
  divergence,
  type DType,
  keep,
  log,
  logsumexp,
  lt,
  matmul,
  mul,
  neg,
  reshape,
  type Rng,
  softmax,
  square,
  sub,
  sum,
  type Tensor,
  tensor,
  vjp,
} from "../compute/mod.ts";
import type { DiffusionModel } from "../sde/model.ts";
import type { Sde } from "../sde/sde.ts";
import { type GmmSpec, loadGmmSpec } from "./gmm_spec.ts";
import { classCount, classSpec } from "./gmm_classes.ts";
import { UsageError } from "../io/errors.ts";
import { symmetricEigen } from "./symmetric_eigen.ts";

interface DeviceConsts {
  means: Tensor; // [K, 1, D]
  lambda: Tensor; // [K, 1, D] eigenvalues of Σ_k
  u: Tensor | null; // [K, D, D] eigenvectors U_k (row-major); null when every Σ_k = c_k² I
  logNorm: Tensor; // [K, 1]: log w_k − (D/2) log 2π
}

export class GmmModel implements DiffusionModel {
  readonly shape: readonly number[];
  readonly description: string;
  readonly K: number;
  readonly D: number;
  /** Eigenvalues λ_k (ascending) and eigenvectors U_k (null: the identity, isotropic). */
  readonly #eig: { values: number[]; vectors: number[][] | null }[];
  readonly #consts = new WeakMap<Backend, Partial<Record<DType, DeviceConsts>>>();
  /** A labelled mixture's number of classes; undefined when unlabelled. */
  readonly classes?: number;
  readonly #byLabel = new Map<number, GmmModel>();

  constructor(readonly spec: GmmSpec, readonly sde: Sde) {
    this.classes = classCount(spec);
    if (this.classes === undefined) this.withLabel = undefined;
    this.K = spec.weights.length;
    this.D = spec.means[0].length;
    this.shape = [...spec.shape];
    const components = this.K === 1 ? "1 component" : `${this.K} components`;
    this.description = `gmm:${spec.source} (${components}, D = ${this.D})`;
    this.#eig = spec.stds
      ? spec.stds.map((c) => ({ values: new Array(this.D).fill(c * c), vectors: null }))
      : spec.covs!.map((cov) => symmetricEigen(cov));
  }

  /** p(x | label) exactly (one model per class, kept); null: the whole mixture. */
  withLabel?: (label: number | null) => GmmModel = (label) => {
    if (label === null) return this;
    const classes = this.classes!;
    if (!(Number.isInteger(label) && label >= 0 && label < classes)) {
      throw new UsageError(`class ${label}: ${this.description} has classes 0…${classes - 1}`);
    }
    let model = this.#byLabel.get(label);
    if (!model) {
      this.#byLabel.set(label, model = new GmmModel(classSpec(this.spec, label), this.sde));
    }
    return model;
  };

  static async load(path: string, sde: Sde): Promise<GmmModel> {
    return new GmmModel(await loadGmmSpec(path), sde);
  }

  /** Σ_k w_k N(μ_k, c_k² I) given in code rather than a file (tests' Gaussians, benchmarks). */
  static isotropic(
    mixture: { weights: number[]; means: number[][]; stds: number[] },
    sde: Sde,
  ): GmmModel {
    const { weights, means, stds } = mixture;
    return new GmmModel(
      { source: "isotropic", weights, means, stds, shape: [means[0].length] },
      sde,
    );
  }

  /** log p_t(x) = logsumexp_k [log w_k − ½D log 2π − ½Σ_d log v_kd − ½Σ_d z_kd²/v_kd], [B]. */
  logp(x: Tensor, t: Tensor): Tensor {
    return logsumexp(this.#terms(x, t).logits, [0]);
  }

  /** ∇ log p_t(x) = Σ_k r_k C_k⁻¹(α μ_k − x) = −Σ_k r_k U_k (z_k / v_k), r = softmax(logits). */
  score(x: Tensor, t: Tensor): Tensor {
    const { r, z, v, c } = this.#terms(x, t);
    return reshape(neg(sum(mul(r, this.#rotateBack(div(z, v), c)), [0])), x.shape);
  }

  /**
   * E[x_0 | x_t] = Σ_k r_k (μ_k + α Σ_k C_k⁻¹(x − α μ_k)) = Σ_k r_k (μ_k + U_k(α λ_k z_k / v_k)),
   * identical to Tweedie's (x + σ² ∇log p_t)/α but free of its cancellation, which dividing
   * by a small α (t near T) would magnify in float32.
   */
  denoisingMean(x: Tensor, t: Tensor): Tensor {
    const { r, z, v, a, c } = this.#terms(x, t);
    const pulled = this.#rotateBack(div(mul(mul(c.lambda, a), z), v), c);
    return reshape(sum(mul(r, add(c.means, pulled)), [0]), x.shape);
  }

  /** H v with H = ∇² log p_t(x), by reverse mode through the score (H is symmetric: Jᵀv = Jv). */
  hessianVectorProduct(x: Tensor, t: Tensor, v: Tensor): Tensor {
    return vjp((y) => this.score(y, t), x).pullback(v);
  }

  /**
   * The dense Hessian ∇² log p_t(x), [B, D, D], one pullback per dimension (small D: the exact
   * moments of the Likelihood-Matching sampler).
   */
  hessian(x: Tensor, t: Tensor): Tensor {
    const B = x.shape[0], D = this.D;
    const { pullback } = vjp((y) => this.score(y, t), x);
    const rows = Array.from({ length: D }, (_, j) => {
      const e = new Float64Array(B * D);
      for (let b = 0; b < B; b++) e[b * D + j] = 1;
      return reshape(pullback(tensor(x.backend, e, x.shape, x.dtype)), [B, 1, D]);
    });
    return concat(rows, 1);
  }

  /** Δ log p_t(x) = tr H = ∇·score, exact (one pullback per dimension), shape [B]. */
  laplacian(x: Tensor, t: Tensor): Tensor {
    return divergence((y) => this.score(y, t), x, { method: "exact" }).div;
  }

  /**
   * n draws of x_0 ~ Σ_k w_k N(μ_k, Σ_k), shape [n, …shape]: the component by the inverse CDF
   * of one uniform (one-hot 1[u < W_k] − 1[u < W_{k−1}], W the cumulative weights), then
   * μ_k + U_k diag(√λ_k) z. Consumes n uniforms and n·D normals of `rng`, in that order.
   */
  sample(rng: Rng, backend: Backend, n: number, dtype: DType = "f32"): Tensor {
    const { K, D } = this;
    const w = this.spec.weights;
    const upper = w.map((_, k) => w.slice(0, k + 1).reduce((s, v) => s + v, 0));
    // The last bin takes everything above W_{K−2}, so rounding in Σw can leave no u unassigned.
    upper[K - 1] = 2;
    const lower = [-1, ...upper.slice(0, K - 1)];
    const u = rng.uniform(backend, [n, 1], dtype);
    const onehot = sub(
      lt(u, tensor(backend, upper, [1, K], dtype)),
      lt(u, tensor(backend, lower, [1, K], dtype)),
    );
    const z = rng.normal(backend, [n, D], dtype);
    const means = matmul(onehot, tensor(backend, this.spec.means.flat(), [K, D], dtype));
    const { stds } = this.spec;
    if (stds) {
      // Isotropic: c_k z, without the K·D² rotation constants (large D for image shapes).
      const x = add(means, mul(matmul(onehot, tensor(backend, stds, [K, 1], dtype)), z));
      return reshape(x, [n, ...this.shape]);
    }
    // Column block k of `root` is (U_k diag √λ_k)ᵀ, so z·root holds every (U_k diag √λ_k z)ᵀ.
    const root = new Float64Array(D * K * D);
    this.#eig.forEach(({ values, vectors }, k) => {
      for (let i = 0; i < D; i++) {
        for (let j = 0; j < D; j++) {
          root[i * K * D + k * D + j] = vectors![j][i] * Math.sqrt(values[i]);
        }
      }
    });
    const spread = reshape(matmul(z, tensor(backend, root, [D, K * D], dtype)), [n, K, D]);
    const x = add(means, sum(mul(reshape(onehot, [n, K, 1]), spread), [1]));
    return reshape(x, [n, ...this.shape]);
  }

  /** Float64 log p_t(x) for one flattened example: the oracle of likelihood tests. */
  logpHost(x: readonly number[], t: number): number {
    if (x.length !== this.D) throw new Error(`logpHost: x has ${x.length} values, D = ${this.D}`);
    const a = this.sde.alpha(t), s = this.sde.sigma(t);
    const terms = this.#eig.map(({ values, vectors }, k) => {
      const diff = x.map((xi, i) => xi - a * this.spec.means[k][i]);
      let acc = Math.log(this.spec.weights[k]) - (this.D / 2) * Math.log(2 * Math.PI);
      values.forEach((lam, d) => {
        const z = vectors ? diff.reduce((p, di, i) => p + vectors[i][d] * di, 0) : diff[d];
        const v = a * a * lam + s * s;
        acc -= 0.5 * (Math.log(v) + (z * z) / v);
      });
      return acc;
    });
    const m = Math.max(...terms);
    return m + Math.log(terms.reduce((p, l) => p + Math.exp(l - m), 0));
  }

  /** E[x_0] = Σ_k w_k μ_k. */
  meanHost(): number[] {
    const { weights, means } = this.spec;
    return means[0].map((_, i) => weights.reduce((p, w, k) => p + w * means[k][i], 0));
  }

  /** Cov[x_0] = Σ_k w_k (Σ_k + μ_k μ_kᵀ) − m mᵀ (law of total covariance). */
  covarianceHost(): number[][] {
    const { weights, means, covs, stds } = this.spec;
    const m = this.meanHost();
    return m.map((mi, i) =>
      m.map((mj, j) =>
        weights.reduce((p, w, k) => {
          const cov = covs ? covs[k][i][j] : i === j ? stds![k] ** 2 : 0;
          return p + w * (cov + means[k][i] * means[k][j]);
        }, 0) - mi * mj
      )
    );
  }

  /**
   * Shared terms at (x, t): z_k = U_kᵀ(x − α μ_k) ([K, B, D]; the difference is formed before
   * rotating so that near a mean, where x ≈ α μ_k at small σ, float32 keeps z's digits),
   * v_k = α²λ_k + σ², component logits [K, B] and responsibilities r [K, B, 1].
   */
  #terms(x: Tensor, t: Tensor) {
    const B = x.shape[0];
    if (x.size !== B * this.D) {
      throw new Error(
        `gmm: examples of shape [${x.shape.slice(1)}] do not hold D = ${this.D} values`,
      );
    }
    if (t.shape.length !== 1 || t.shape[0] !== B) {
      throw new Error(`gmm: times of shape [${t.shape}] for a batch of ${B}; expected [${B}]`);
    }
    const c = this.#deviceConsts(x.backend, x.dtype);
    const { alpha, sigma } = this.sde.alphaSigmaT(t);
    const a = reshape(alpha, [1, B, 1]), s = reshape(sigma, [1, B, 1]);
    const diff = sub(reshape(x, [1, B, this.D]), mul(c.means, a));
    const z = c.u ? matmul(diff, c.u) : diff;
    const v = add(mul(c.lambda, square(a)), square(s));
    const logits = sub(
      c.logNorm,
      mul(add(sum(log(v), [2]), sum(div(square(z), v), [2])), 0.5),
    );
    return { logits, r: reshape(softmax(logits, 0), [this.K, B, 1]), z, v, a, c };
  }

  /** U_k y_k for y [K, B, D]: rows of y·U_kᵀ. */
  #rotateBack(y: Tensor, c: DeviceConsts): Tensor {
    return c.u ? matmul(y, c.u, false, true) : y;
  }

  /** The mixture's constants on `backend` in `dtype`, uploaded once and kept. */
  #deviceConsts(backend: Backend, dtype: DType): DeviceConsts {
    let perDtype = this.#consts.get(backend);
    if (!perDtype) this.#consts.set(backend, perDtype = {});
    const hit = perDtype[dtype];
    if (hit) return hit;
    const { K, D } = this;
    const up = (data: number[], shape: number[]) => keep(tensor(backend, data, shape, dtype));
    const made: DeviceConsts = {
      means: up(this.spec.means.flat(), [K, 1, D]),
      lambda: up(this.#eig.flatMap((e) => e.values), [K, 1, D]),
      u: this.spec.covs ? up(this.#eig.flatMap((e) => e.vectors!.flat()), [K, D, D]) : null,
      logNorm: up(this.spec.weights.map((w) => Math.log(w) - (D / 2) * Math.log(2 * Math.PI)), [
        K,
        1,
      ]),
    };
    return perDtype[dtype] = made;
  }
}
