/**
 * The safe PyTorch reader against files torch 1.13 wrote (fixtures/gen/torch_files.py): every
 * tensor of the zip and legacy torch.save formats and of an EDM-like plain pickle, bit for bit,
 * under its state_dict name; unknown classes as placeholders; plain data at every pickle
 * protocol; and hostile input — truncations, byte corruptions, huge declared lengths, deep
 * nesting, memo bombs, zip bombs, code-running globals — which must end in an InputError or a
 * value, quickly, and never run anything.
 */

import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { InputError } from "../../io/errors.ts";
import {
  decodePickle,
  isCall,
  type PickleCall,
  type PickleValue,
  type TorchTensor,
} from "../../io/pickle.ts";
import { flattenTensors, float32Of, readTorchFile, stateDictOf } from "../../io/torch_file.ts";

const DIR = new URL("../../fixtures/torch/", import.meta.url);
const fixture = (name: string) => Deno.readFileSync(new URL(name, DIR));

interface ExpectedTensor {
  dtype: string;
  shape: number[];
  values: number[];
}
const expected = JSON.parse(Deno.readTextFileSync(new URL("expected.json", DIR))) as {
  checkpoint: Record<string, ExpectedTensor>;
  "snapshot.pkl": Record<string, ExpectedTensor>;
  pickle: unknown;
};

/** Every tensor equals torch's: same names, dtypes, shapes and values (exactly). */
function assertTensors(got: Map<string, TorchTensor>, want: Record<string, ExpectedTensor>) {
  assert.deepEqual([...got.keys()].sort(), Object.keys(want).sort());
  for (const [name, w] of Object.entries(want)) {
    const t = got.get(name)!;
    assert.equal(t.dtype, w.dtype, name);
    assert.deepEqual(t.shape, w.shape, name);
    // float16/bfloat16 widen to float32 exactly, int64 values here are below 2^53
    assert.deepEqual(Array.from(t.data as ArrayLike<number | bigint>, Number), w.values, name);
  }
}

for (const file of ["checkpoint_zip.pt", "checkpoint_legacy.pt"]) {
  Deno.test(`${file}: every tensor matches torch's dtype, shape and values`, () => {
    const ckpt = readTorchFile(fixture(file), file);
    assertTensors(flattenTensors(ckpt), expected.checkpoint);
    const root = ckpt as Map<PickleValue, PickleValue>;
    assert.equal(root.get("step"), 3);
    const ema = root.get("ema") as Map<PickleValue, PickleValue>;
    assert.deepEqual([ema.get("decay"), ema.get("num_updates")], [0.9999, 3]);
    const groups = (root.get("optimizer") as Map<PickleValue, PickleValue>).get("param_groups");
    assert.deepEqual((groups as Map<PickleValue, PickleValue>[])[0].get("betas"), [0.9, 0.999]);
  });
}

Deno.test("views: a transposed tensor and storage-sharing slices come out row-major", () => {
  const sd = flattenTensors(readTorchFile(fixture("checkpoint_zip.pt"), "c.pt"), "");
  const at = (k: string) => Array.from(sd.get(`model.module.${k}`)!.data as Float32Array);
  const line = at("line");
  assert.deepEqual(at("tail"), line.slice(3));
  assert.deepEqual(at("every_other"), [line[1], line[3], line[5]]);
  assert.deepEqual(sd.get("model.module.transposed")!.shape, [3, 2]);
  assert.deepEqual(at("transposed"), [0.5, 4.25, 1.75, 5.5, 3, 6.75]);
});

Deno.test("flattenTensors puts a prefix first; stateDictOf has none", () => {
  const ckpt = readTorchFile(fixture("checkpoint_legacy.pt"), "c.pt");
  const model = (ckpt as Map<PickleValue, PickleValue>).get("model")!;
  assert.ok(stateDictOf(model).has("module.all_modules.0.weight"));
  assert.ok(flattenTensors(model, "net").has("net.module.all_modules.0.weight"));
  const half = stateDictOf(model).get("module.half")!;
  assert.deepEqual(Array.from(float32Of(half)), expected.checkpoint["model.module.half"].values);
  assert.deepEqual(Array.from(float32Of(stateDictOf(model).get("module.long")!)), [
    2 ** 40,
    -7,
    0,
  ]);
});

Deno.test("an EDM-like snapshot: state_dict names, unknown classes as placeholders", () => {
  const snap = readTorchFile(fixture("snapshot.pkl"), "snapshot.pkl");
  assertTensors(flattenTensors(snap), expected["snapshot.pkl"]);
  const root = snap as Map<PickleValue, PickleValue>;
  const ema = root.get("ema") as PickleCall;
  assert.ok(isCall(ema));
  assert.equal(ema.className, "training.networks.TinyPrecond");
  assert.deepEqual(ema.callee, {
    kind: "global",
    module: "torch_utils.persistence",
    name: "_reconstruct_persistent_obj",
  });
  const state = ema.state as Map<PickleValue, PickleValue>;
  assert.equal(state.get("sigma_data"), 0.5);
  const block = (state.get("_modules") as Map<PickleValue, PickleValue>).get("model") as PickleCall;
  assert.equal(block.className, "__main__.TinyBlock");
  const loss = root.get("loss_fn") as PickleCall;
  assert.equal(loss.className, "__main__.TinyLoss");
  assert.deepEqual(loss.state, new Map([["P_mean", -1.2], ["P_std", 1.2]]));
  assert.deepEqual(
    root.get("dataset_kwargs"),
    new Map<PickleValue, PickleValue>([
      ["resolution", 32],
      ["use_labels", false],
    ]),
  );
});

/** The tagged form fixtures/gen/torch_files.py writes for plain data. */
function tag(v: PickleValue): unknown {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "bigint") return { int: v.toString() };
  if (typeof v === "number") return Number.isInteger(v) ? { int: String(v) } : v;
  if (v instanceof Uint8Array) return { bytes: Array.from(v) };
  if (Array.isArray(v)) return v.map(tag);
  if (v instanceof Map) return { dict: [...v].map(([k, x]) => [tag(k), tag(x)]) };
  if (v instanceof Set) return { set: [...v].sort((a, b) => Number(a) - Number(b)).map(tag) };
  throw new Error(`unexpected ${v.kind}`);
}

for (let protocol = 0; protocol <= 5; protocol++) {
  Deno.test(`pickle protocol ${protocol}: plain data decodes as Python wrote it`, () => {
    const name = `pickle_p${protocol}.pkl`;
    const bytes = fixture(name);
    const { value, end } = decodePickle(bytes, name);
    assert.equal(end, bytes.length);
    assert.deepEqual(tag(value), expected.pickle);
    const shared = (value as Map<PickleValue, PickleValue>).get("shared") as PickleValue[];
    assert.equal(shared[0], shared[1], "a memoized object stays one object");
  });
}

// ---- hand-made files ----

const enc = new TextEncoder();
const cat = (...parts: (Uint8Array | number[] | string)[]) => {
  const arrays = parts.map((p) => typeof p === "string" ? enc.encode(p) : Uint8Array.from(p));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) out.set(a, (at += a.length) - a.length);
  return out;
};
const u32 = (n: number) => [n & 255, (n >> 8) & 255, (n >> 16) & 255, n >>> 24];
/** BINUNICODE */
const str = (s: string) => cat([0x58, ...u32(enc.encode(s).length)], s);
/** BININT */
const int = (n: number) => [0x4a, ...u32(n)];
const global = (module: string, name: string) => `c${module}\n${name}\n`;

/** data.pkl of `_rebuild_tensor_v2(storage "0" of `numel` floats, offset, shape, stride)`. */
function tensorPickle(
  numel: number,
  offset: number,
  shape: number[],
  stride: number[],
  cls = "FloatStorage",
) {
  return cat(
    [0x80, 2],
    global("torch._utils", "_rebuild_tensor_v2"),
    "((",
    str("storage"),
    global("torch", cls),
    str("0"),
    str("cpu"),
    int(numel),
    "tQ",
    int(offset),
    "(",
    ...shape.map(int),
    "t(",
    ...stride.map(int),
    "t",
    [0x89],
    "}tR.",
  );
}

function zipOf(entries: Record<string, Uint8Array>, level: 0 | 6 = 0) {
  return zipSync(Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, [v, { level }]])));
}

const floats = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

Deno.test("zip: deflated entries and a big-endian archive read the same values", () => {
  const pkl = tensorPickle(4, 1, [2], [2]);
  const little = { "m/data.pkl": pkl, "m/data/0": floats(1, 2, 3, 4) };
  for (const level of [0, 6] as const) {
    const t = stateDictOf(readTorchFile(zipOf(little, level), "m.pt")).get("")!;
    assert.deepEqual(Array.from(t.data as Float32Array), [2, 4]);
  }
  const big = floats(1, 2, 3, 4);
  for (let i = 0; i < big.length; i += 4) big.subarray(i, i + 4).reverse();
  const swapped = { "m/data.pkl": pkl, "m/data/0": big, "m/byteorder": enc.encode("big") };
  const t = stateDictOf(readTorchFile(zipOf(swapped), "m.pt")).get("")!;
  assert.deepEqual(Array.from(t.data as Float32Array), [2, 4]);
});

/** The InputError message reading `bytes` gives (failing on success or another error). */
function rejection(
  bytes: Uint8Array,
  read: (b: Uint8Array) => unknown = (b) => readTorchFile(b, "bad.pt"),
) {
  try {
    read(bytes);
  } catch (e) {
    assert.ok(e instanceof InputError, `expected an InputError, got ${e}`);
    assert.match(e.message, /^bad\.pt/);
    return e.message;
  }
  throw new Error("a defective file was accepted");
}

Deno.test("a view that reaches past its storage, or data shorter than declared, is refused", () => {
  const pkl = tensorPickle(3, 1, [3], [1]);
  assert.match(
    rejection(zipOf({ "a/data.pkl": pkl, "a/data/0": floats(1, 2, 3) })),
    /reaches element 3, but the storage holds 3/,
  );
  assert.match(
    rejection(zipOf({ "a/data.pkl": tensorPickle(3, 0, [3], [1]), "a/data/0": floats(1, 2) })),
    /holds 8 bytes, 3 float32 need 12/,
  );
  assert.match(rejection(zipOf({ "a/data.pkl": pkl })), /no entry a\/data\/0/);
  assert.match(
    rejection(zipOf({ "a/data.pkl": tensorPickle(1, 0, [1], [1], "ComplexFloatStorage") })),
    /ComplexFloatStorage is not supported/,
  );
  const broadcast = {
    "a/data.pkl": tensorPickle(1, 0, [1 << 20, 1 << 20], [0, 0]),
    "a/data/0": floats(7),
  };
  assert.match(rejection(zipOf(broadcast)), /exceed what is left of the limit/);
});

Deno.test("not a torch file: empty, text, a zip without data.pkl", () => {
  assert.match(rejection(new Uint8Array(0)), /empty/);
  assert.match(rejection(enc.encode("hello world")), /expected a torch\.save zip archive/);
  assert.match(rejection(zipOf({ "x/readme.txt": enc.encode("hi") })), /without data\.pkl/);
});

Deno.test("a zip entry claiming more than deflate can expand is refused before inflating", () => {
  const zip = zipOf({ "a/data.pkl": tensorPickle(1, 0, [1], [1]), "a/data/0": floats(1) }, 6);
  // patch the uncompressed size of every central directory record to 2 GiB
  const view = new DataView(zip.buffer);
  for (let i = 0; i + 4 <= zip.length; i++) {
    if (view.getUint32(i, true) === 0x02014b50) view.setUint32(i + 24, 0x7fffffff, true);
  }
  const start = performance.now();
  assert.match(rejection(zip), /more than deflate can expand/);
  assert.ok(performance.now() - start < 1000);
});

Deno.test("a declared 2^40-byte BINBYTES8 is refused at once", () => {
  const bomb = cat([0x80, 4, 0x8e, 0, 0, 0, 0, 0, 1, 0, 0], "abc.");
  const message = rejection(bomb);
  assert.match(message, /BINBYTES8 at byte offset 2: declares 1099511627776 bytes/);
});

Deno.test("os.system with REDUCE stays an inert placeholder", () => {
  const dir = Deno.makeTempDirSync(), marker = `${dir}/ran`;
  for (const [module, name] of [["os", "system"], ["posix", "system"], ["builtins", "eval"]]) {
    const evil = cat([0x80, 2], global(module, name), str(`touch ${marker}`), [0x85], "R.");
    const call = readTorchFile(evil, "evil.pkl") as PickleCall;
    assert.deepEqual(
      [call.kind, call.callee, call.args, call.className],
      ["call", { kind: "global", module, name }, [`touch ${marker}`], null],
    );
  }
  // STACK_GLOBAL and NEWOBJ spellings too
  const evil = cat([0x80, 4], [0x8c, 2], "os", [0x8c, 6], "system", [0x93], ")", [0x81, 0x2e]);
  assert.equal((readTorchFile(evil, "evil.pkl") as PickleCall).className, "os.system");
  assert.throws(() => Deno.statSync(marker), Deno.errors.NotFound);
  Deno.removeSync(dir);
});

Deno.test("deep nesting: lists 100000 deep are walked without recursion; MARKs are limited", () => {
  const n = 100_000;
  const deep = cat([0x80, 2], new Array(n).fill(0x5d), new Array(n - 1).fill(0x61), ".");
  const value = readTorchFile(deep, "deep.pkl");
  assert.equal(flattenTensors(value).size, 0);
  assert.match(rejection(cat([0x80, 2], new Array(n).fill(0x28), ".")), /more than 1000 MARKs/);
});

Deno.test("memo bombs: an exponential DAG stays linear; limits on memo and work hold", () => {
  // x = []; 300 times x = (x, x): 2^300 paths, 301 objects
  const step = [0x68, 0, 0x68, 0, 0x86, 0x71, 0];
  const dag = cat([0x80, 2, 0x5d, 0x71, 0], ...new Array(300).fill(step), ".");
  const start = performance.now();
  assert.equal(flattenTensors(readTorchFile(dag, "dag.pkl")).size, 0);
  assert.ok(performance.now() - start < 1000);
  const puts = cat([0x80, 2, 0x4e], ...Array.from({ length: 20 }, (_, i) => [0x71, i]), ".");
  const limited = (b: Uint8Array) => decodePickle(b, "bad.pt", { limits: { maxMemo: 10 } });
  assert.match(rejection(puts, limited), /more than 10 memo entries/);
  // set(L) again and again on one memoized 1000-element list: quadratic work, refused
  const list = cat("(", ...new Array(1000).fill([0x4b, 1]), "lq\x00");
  const sets = new Array(1000).fill(cat(global("builtins", "set"), [0x68, 0, 0x85], "R0"));
  const work = cat([0x80, 2], list, ...sets, ".");
  const budget = (b: Uint8Array) => decodePickle(b, "bad.pt", { limits: { maxElements: 1e5 } });
  assert.match(rejection(work, budget), /more than 100000 elements/);
});

Deno.test("torch.save blobs nested in blobs stop at the nesting limit", () => {
  let blob = cat([0x80, 2, 0x4b, 7, 0x2e]);
  for (let i = 0; i < 3; i++) {
    const bytes = [0x42, ...u32(blob.length)]; // BINBYTES
    blob = cat([0x80, 3], global("torch.storage", "_load_from_bytes"), bytes, blob, [0x85], "R.");
  }
  assert.equal(readTorchFile(blob, "bad.pt", { maxNesting: 3 }), 7);
  assert.match(rejection(blob), /nested more than 2 levels deep/);
});

/** xorshift32: a seeded, repeatable stream of 32-bit integers. */
function xorshift(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

for (const file of ["checkpoint_zip.pt", "checkpoint_legacy.pt", "snapshot.pkl"]) {
  Deno.test(`${file}: 200 truncations and 300 byte corruptions decode or throw InputError`, () => {
    const good = fixture(file);
    const attempt = (bytes: Uint8Array, what: string) => {
      try {
        flattenTensors(readTorchFile(bytes, file));
      } catch (e) {
        if (!(e instanceof InputError)) {
          throw new Error(`${what}: ${e instanceof Error ? e.stack : e}`);
        }
        assert.ok(e.message.startsWith(file), e.message);
      }
    };
    for (let i = 0; i < 200; i++) {
      const length = Math.floor((i * good.length) / 200);
      attempt(good.subarray(0, length), `truncated to ${length} bytes`);
    }
    const next = xorshift(0x5eed + good.length);
    for (let i = 0; i < 300; i++) {
      const bad = good.slice(), at = next() % bad.length, flip = 1 + (next() % 255);
      bad[at] ^= flip;
      attempt(bad, `byte ${at} xor ${flip}`);
    }
  });
}
