/**
 * Number parsers for commander options, shared by every subcommand: each rejects what `ok`
 * refuses with a message naming the flag, what was expected and what was found (exit 2).
 */

import { InvalidArgumentError } from "@commander-js/extra-typings";

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
export const nonNegativeInt = (flag: string) =>
  numberFlag(flag, "an integer ≥ 0", (n) => Number.isInteger(n) && n >= 0);
export const positiveNumber = (flag: string) => numberFlag(flag, "a positive number", (n) => n > 0);
export const nonNegativeNumber = (flag: string) => numberFlag(flag, "a number ≥ 0", (n) => n >= 0);
export const probability = (flag: string) =>
  numberFlag(flag, "a probability in (0, 1)", (n) => n > 0 && n < 1);
/** A seed: any safe integer ≥ 0 (Rng.fromSeed takes exactly these). */
export const seedFlag = (flag: string) =>
  numberFlag(flag, "an integer ≥ 0", (n) => Number.isSafeInteger(n) && n >= 0);
