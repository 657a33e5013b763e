/**
 * Explicit Runge–Kutta methods as data (STYLE 12, after torchdiffeq's `_ButcherTableau`): one
 * generic step in `rk_step.ts` runs any of them. Stage i evaluates f at t + cᵢh on
 * y + h Σⱼ aᵢⱼkⱼ; the solution is y + h Σ bᵢkᵢ and, for embedded pairs, the error estimate is
 * h Σ (bᵢ − b̂ᵢ)kᵢ with b̂ the weights of the lower-order solution (Hairer, Nørsett & Wanner,
 * Solving ODEs I, §II.4).
 */

export interface ButcherTableau {
  name: string;
  /** Order p of the propagated solution (the b weights). */
  order: number;
  /** Order q of the embedded solution b̂; the step-size exponent is −1/(q+1). */
  embeddedOrder?: number;
  /** Nodes cᵢ, one per stage. */
  c: readonly number[];
  /** Strictly lower-triangular rows: a[i] has i entries (a[0] is empty). */
  a: readonly (readonly number[])[];
  b: readonly number[];
  /** b − b̂ (torchdiffeq's `c_error`), present for embedded pairs only. */
  bErr?: readonly number[];
  /**
   * First Same As Last: the last stage is evaluated at (t + h, y_new), so it is the next step's
   * first stage; requires c_last = 1 and a_last = b.
   */
  fsal: boolean;
}

/** Forward Euler: y ← y + h f(t, y); order 1. */
export const EULER: ButcherTableau = {
  name: "euler",
  order: 1,
  c: [0],
  a: [[]],
  b: [1],
  fsal: false,
};

/** Heun's method (explicit trapezoid): the Euler predictor corrected by the average slope; order 2. */
export const HEUN: ButcherTableau = {
  name: "heun",
  order: 2,
  c: [0, 1],
  a: [[], [1]],
  b: [1 / 2, 1 / 2],
  fsal: false,
};

/**
 * Bogacki–Shampine 3(2) (Bogacki & Shampine 1989, Appl. Math. Lett. 2(4)); MATLAB's ode23.
 * b̂ = [7/24, 1/4, 1/3, 1/8].
 */
export const BOGACKI_SHAMPINE: ButcherTableau = {
  name: "bogacki-shampine",
  order: 3,
  embeddedOrder: 2,
  c: [0, 1 / 2, 3 / 4, 1],
  a: [[], [1 / 2], [0, 3 / 4], [2 / 9, 1 / 3, 4 / 9]],
  b: [2 / 9, 1 / 3, 4 / 9, 0],
  bErr: [2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8],
  fsal: true,
};

/**
 * Dormand–Prince 5(4) (Dormand & Prince 1980, J. Comput. Appl. Math. 6(1); Hairer's DOPRI5,
 * MATLAB's ode45): the docs/MATH.md §2 default. b̂ = [5179/57600, 0, 7571/16695, 393/640,
 * −92097/339200, 187/2100, 1/40].
 */
export const DORMAND_PRINCE: ButcherTableau = {
  name: "dormand-prince",
  order: 5,
  embeddedOrder: 4,
  c: [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1],
  a: [
    [],
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
  ],
  b: [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0],
  bErr: [
    35 / 384 - 5179 / 57600,
    0,
    500 / 1113 - 7571 / 16695,
    125 / 192 - 393 / 640,
    -2187 / 6784 + 92097 / 339200,
    11 / 84 - 187 / 2100,
    -1 / 40,
  ],
  fsal: true,
};

/** Every tableau, for tests that check all of them. */
export const TABLEAUS: readonly ButcherTableau[] = [EULER, HEUN, BOGACKI_SHAMPINE, DORMAND_PRINCE];
