/**
 * The MessagePack reader on hostile input: truncations and byte corruptions of a real flax
 * checkpoint (fixtures/idode/), nesting far past the depth limit, lengths far past the file's
 * end, and a `__proto__` key must each end quickly in a value or an InputError naming the file,
 * never another exception and never a large allocation.
 */

import assert from "node:assert/strict";
import { gunzipSync } from "fflate";
import { InputError } from "../../io/errors.ts";
import { decodeMsgpack } from "../../io/msgpack.ts";
import { readIdodeState } from "../../nn/import/idode.ts";

const FILE = "ckpt-1.flax";
const good = gunzipSync(
  Deno.readFileSync(new URL("../../fixtures/idode/checkpoints-0/ckpt-1.flax.gz", import.meta.url)),
);

/** Decoding either succeeds or fails with an InputError that names the file. */
function decodesOrRefuses(bytes: Uint8Array, what: string): void {
  try {
    readIdodeState(bytes, FILE);
  } catch (e) {
    if (!(e instanceof InputError)) throw new Error(`${what}: ${e instanceof Error ? e.stack : e}`);
    assert.ok(e.message.startsWith(FILE), e.message);
  }
}

/** xorshift32: a seeded, repeatable stream of 32-bit integers. */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

Deno.test("msgpack: the fixture decodes into an i-DODE training state", () => {
  const state = readIdodeState(good, FILE);
  assert.ok(state.params.size > 0 && state.params.size === state.ema.size);
});

Deno.test("msgpack: 200 truncations and 300 byte corruptions decode or throw InputError", () => {
  for (let i = 0; i < 200; i++) {
    const length = Math.floor((i * good.length) / 200);
    decodesOrRefuses(good.subarray(0, length), `truncated to ${length} bytes`);
  }
  const next = xorshift(0x5eed);
  for (let i = 0; i < 300; i++) {
    const bad = good.slice(), at = next() % bad.length, flip = 1 + (next() % 255);
    bad[at] ^= flip;
    decodesOrRefuses(bad, `byte ${at} xor ${flip}`);
  }
});

Deno.test("msgpack: deep nesting, huge declared lengths and __proto__ keys are refused", () => {
  const refused = (bytes: Uint8Array, message: RegExp) =>
    assert.throws(() => decodeMsgpack(bytes, "x.msgpack"), (e: unknown) => {
      assert.ok(e instanceof InputError, String(e));
      assert.match((e as Error).message, message);
      return true;
    });
  // 100,000 one-element arrays inside each other
  refused(new Uint8Array(100_001).fill(0x91), /nesting deeper than/);
  // an array, a map, binary, a string and an extension each declaring 2^32 − 1 items or bytes
  for (const type of [0xdd, 0xdf, 0xc6, 0xdb, 0xc9]) {
    refused(Uint8Array.of(type, 0xff, 0xff, 0xff, 0xff, 0), /runs past the end|elements|entries/);
  }
  // {"__proto__": 1} would set the decoded object's prototype
  const proto = new TextEncoder().encode("__proto__");
  refused(Uint8Array.of(0x81, 0xa0 | proto.length, ...proto, 0x01), /__proto__/);
  // trailing bytes after the value
  refused(Uint8Array.of(0xc0, 0xc0), /after the value/);
});
