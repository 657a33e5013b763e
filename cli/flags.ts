/**
 * Number parsers for commander options, shared by every subcommand: each rejects what `ok`
 * refuses with a message naming the flag, what was expected and what was found (exit 2).
 */

import { InvalidArgumentError } from "commander";

export function numberFlag(flag: string, expected: string, ok: (n: number) => boolean) {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || !ok(n)) {
      throw new InvalidArgumentError(`${flag} must be ${expected}, got ${v}`);
    }
    return n;
  };
}

export const positiveInt = (flag: string) =>
  numberFlag(flag, "a positive integer", (n) => Number.isInteger(n) && n >= 1);
export const intAtLeast = (flag: string, min: number) =>
  numberFlag(flag, `an integer ≥ ${min}`, (n) => Number.isInteger(n) && n >= min);
export const nonNegativeInt = (flag: string) => intAtLeast(flag, 0);
export const positiveNumber = (flag: string) => numberFlag(flag, "a positive number", (n) => n > 0);
export const nonNegativeNumber = (flag: string) => numberFlag(flag, "a number ≥ 0", (n) => n >= 0);
/** A number in [lo, hi]. */
export const numberIn = (flag: string, lo: number, hi = Infinity) =>
  numberFlag(flag, `a number in [${lo}, ${hi}]`, (n) => n >= lo && n <= hi);
/** A number in [lo, hi): for a decay, where hi itself would mean "never move". */
export const numberBelow = (flag: string, lo: number, hi: number) =>
  numberFlag(flag, `a number in [${lo}, ${hi})`, (n) => n >= lo && n < hi);
export const probability = (flag: string) =>
  numberFlag(flag, "a probability in (0, 1)", (n) => n > 0 && n < 1);
/** A seed: any safe integer ≥ 0 (Rng.fromSeed takes exactly these). */
export const seedFlag = (flag: string) =>
  numberFlag(flag, "an integer ≥ 0", (n) => Number.isSafeInteger(n) && n >= 0);

/** Comma-separated integers ≥ 1 ("1,2,2"); the empty string is the empty list. */
export function intListFlag(flag: string) {
  return (v: string): number[] => {
    const parts = v === "" ? [] : v.split(",").map(Number);
    if (parts.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new InvalidArgumentError(`${flag} must be comma-separated integers ≥ 1, got ${v}`);
    }
    return parts;
  };
}
