/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011),
 * the counter-based generator behind every draw. Element i of a draw hashes the 128-bit
 * counter (counter + i as 64 bits, round, 0) under a 64-bit key, so any element can be
 * computed independently and the WGSL twin (`webgpu/wgsl/philox.ts`) gives the same bits.
 */

import type { RandomParams } from "../backend.ts";

const M0 = 0xd2511f53, M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9, W1 = 0xbb67ae85;
const TWO_POW_32 = 4294967296;
const TWO_POW_M24 = 1 / 16777216;

/** High and low 32 bits of the 64-bit product of two u32. */
export function mulhilo(a: number, b: number): [number, number] {
  const aLo = a & 0xffff, aHi = a >>> 16, bLo = b & 0xffff, bHi = b >>> 16;
  const ll = aLo * bLo, lh = aLo * bHi, hl = aHi * bLo, hh = aHi * bHi;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  const hi = (hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
  return [hi, Math.imul(a, b) >>> 0];
}

/** Ten Philox rounds of `counter` (4 × u32) under `key` (2 × u32). */
export function philox4x32(
  counter: ArrayLike<number>,
  key: ArrayLike<number>,
): [number, number, number, number] {
  let c0 = counter[0] >>> 0, c1 = counter[1] >>> 0, c2 = counter[2] >>> 0, c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0, k1 = key[1] >>> 0;
  for (let r = 0; r < 10; r++) {
    const [hi0, lo0] = mulhilo(M0, c0);
    const [hi1, lo1] = mulhilo(M1, c2);
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** The 24 high bits as a float in [0, 1): exact in float32, so both backends agree bit for bit. */
export function uniformFromBits(w: number): number {
  return (w >>> 8) * TWO_POW_M24;
}

/** The block for element `i` of a draw starting at `counter`, in round `round`. */
function block(p: RandomParams, i: number, round: number): [number, number, number, number] {
  const c = p.counter + i;
  return philox4x32([c % TWO_POW_32, Math.floor(c / TWO_POW_32), round, 0], p.key);
}

/** Box–Muller on two words: (R cos θ, R sin θ), with the radius's uniform kept away from 0. */
function boxMuller(w0: number, w1: number): [number, number] {
  const u1 = ((w0 >>> 8) + 0.5) * TWO_POW_M24;
  const theta = 2 * Math.PI * uniformFromBits(w1);
  const r = Math.sqrt(-2 * Math.log(u1));
  return [r * Math.cos(theta), r * Math.sin(theta)];
}

/** Rejection rounds before a truncated normal gives up and clamps (4 candidates per round). */
export const TRUNCNORMAL_ROUNDS = 16;

/** Element `i` of the draw described by `p`. */
export function sampleElement(p: RandomParams, i: number): number {
  const w = block(p, i, 0);
  switch (p.kind) {
    case "uniform":
      return uniformFromBits(w[0]);
    case "rademacher":
      return (w[0] >>> 31) === 1 ? 1 : -1;
    case "normal":
      return boxMuller(w[0], w[1])[0];
    case "truncnormal": {
      // Plain rejection: for the bounds used here (τ ≈ 3–4) a first candidate is accepted
      // with probability > 0.997; 64 candidates make failure impossible in practice.
      let last = 0;
      for (let round = 0; round < TRUNCNORMAL_ROUNDS; round++) {
        const v = round === 0 ? w : block(p, i, round);
        for (const z of [...boxMuller(v[0], v[1]), ...boxMuller(v[2], v[3])]) {
          if (Math.abs(z) <= p.bound) return z;
          last = z;
        }
      }
      return Math.max(-p.bound, Math.min(p.bound, last));
    }
  }
}
