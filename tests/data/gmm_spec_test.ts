import assert from "node:assert/strict";
import { InputError } from "../../io/errors.ts";
import { loadGmmSpec, parseGmmSpec } from "../../data/gmm_spec.ts";
import { fixture } from "./gmm_oracle.ts";

const SOURCE = "mix.json";
const VALID = {
  weights: [0.25, 0.75],
  means: [[0, 1], [2, -1]],
  covs: [[[1, 0.5], [0.5, 2]], [[0.3, 0], [0, 0.3]]],
};
type Doc = Record<string, unknown>;
const edit = (f: (d: Doc) => void): string => {
  const d = structuredClone(VALID) as Doc;
  f(d);
  return JSON.stringify(d);
};

/** The InputError `parse` throws (failing if it throws nothing or something else). */
function inputError(text: string): string {
  try {
    parseGmmSpec(text, SOURCE);
  } catch (e) {
    assert.ok(e instanceof InputError, `expected an InputError, got ${e}`);
    return e.message;
  }
  throw new Error("parseGmmSpec accepted an invalid file");
}

/** [what is wrong, file text, the field the message must name, text the message must hold] */
const CASES: [string, string, string, RegExp][] = [
  ["weights missing", edit((d) => delete d.weights), "weights", /non-empty array.*found nothing/],
  ["weights empty", edit((d) => d.weights = []), "weights", /found an array of length 0/],
  [
    "weight a string",
    edit((d) => d.weights = [0.25, "0.75"]),
    "weights[1]",
    /finite number, found "0.75"/,
  ],
  [
    "weight negative",
    edit((d) => d.weights = [-0.25, 1.25]),
    "weights[0]",
    /positive weight, found -0.25/,
  ],
  ["weight zero", edit((d) => d.weights = [0, 1]), "weights[0]", /positive weight, found 0/],
  [
    "weights sum",
    edit((d) => d.weights = [0.25, 0.7]),
    "weights",
    /summing to 1.*found a sum of 0.95/,
  ],
  [
    "weight overflow",
    '{"weights":[1e999],"means":[[0]],"stds":[1]}',
    "weights[0]",
    /found Infinity/,
  ],
  ["means missing", edit((d) => delete d.means), "means", /found nothing/],
  ["means count", edit((d) => d.means = [[0, 1]]), "means", /expected 2 means.*found 1 means/],
  [
    "mean length",
    edit((d) => d.means = [[0, 1], [2, -1, 3]]),
    "means[1]",
    /length 2.*found length 3/,
  ],
  ["mean not array", edit((d) => d.means = [[0, 1], 5]), "means[1]", /array of numbers, found 5/],
  ["mean entry null", edit((d) => d.means = [[0, null], [2, -1]]), "means[0][1]", /found null/],
  [
    "covs count",
    edit((d) => d.covs = [[[1, 0], [0, 1]]]),
    "covs",
    /2 covariance matrices.*found 1 matrices/,
  ],
  ["covs not array", edit((d) => d.covs = { a: 1 }), "covs", /found an object/],
  [
    "cov rows",
    edit((d) => (d.covs as unknown[])[1] = [[1, 0], [0, 1], [0, 0]]),
    "covs[1]",
    /2×2 matrix.*found an array of length 3/,
  ],
  [
    "cov row length",
    edit((d) => (d.covs as number[][][])[1][0] = [1]),
    "covs[1][0]",
    /row of 2 numbers.*found an array of length 1/,
  ],
  [
    "cov entry",
    edit((d) => (d.covs as unknown[][][])[0][1][0] = "x"),
    "covs[0][1][0]",
    /finite number, found "x"/,
  ],
  [
    "cov asymmetric",
    edit((d) => (d.covs as number[][][])[0][0][1] = 0.6),
    "covs[0][0][1]",
    /symmetric.*covs\[0\]\[1\]\[0\] = 0.5.*found 0.6/,
  ],
  [
    "cov indefinite",
    edit((d) => (d.covs as number[][][])[1] = [[1, 2], [2, 1]]),
    "covs[1]",
    /positive-definite.*smallest eigenvalue -1/,
  ],
  [
    "cov singular",
    edit((d) => (d.covs as number[][][])[1] = [[1, 1], [1, 1]]),
    "covs[1]",
    /positive-definite.*smallest eigenvalue/,
  ],
  [
    "cov negative diagonal",
    edit((d) => (d.covs as number[][][])[0] = [[-1, 0], [0, 1]]),
    "covs[0]",
    /positive-definite/,
  ],
  [
    "stds count",
    edit((d) => (delete d.covs, d.stds = [1])),
    "stds",
    /2 standard deviations.*found 1 values/,
  ],
  [
    "std zero",
    edit((d) => (delete d.covs, d.stds = [1, 0])),
    "stds[1]",
    /positive standard deviation, found 0/,
  ],
  ["std negative", edit((d) => (delete d.covs, d.stds = [-2, 1])), "stds[0]", /found -2/],
  [
    "shape product",
    edit((d) => d.shape = [1, 3]),
    "shape",
    /product is D = 2.*found \[1,3\] \(product 3\)/,
  ],
  ["shape entry", edit((d) => d.shape = [0.5, 4]), "shape[0]", /positive integer, found 0.5/],
  [
    "unknown field",
    edit((d) => d.std = [1, 1]),
    "std",
    /only the fields weights, means, covs, stds, shape/,
  ],
];

for (const [what, text, field, detail] of CASES) {
  Deno.test(`gmm spec: ${what} is an input error naming file and field`, () => {
    const msg = inputError(text);
    assert.ok(msg.startsWith(`${SOURCE}: field "${field}": expected `), msg);
    assert.match(msg, detail);
    assert.match(msg, /, found /);
  });
}

// Errors that are not about one field still name the file and say what was expected.
const WHOLE: [string, string, RegExp][] = [
  ["not JSON", '{"weights": [1', /not valid JSON/],
  ["an array", "[1, 2]", /expected a JSON object.*found an array of length 2/],
  [
    "both covs and stds",
    edit((d) => d.stds = [1, 1]),
    /"covs" and "stds": expected exactly one.*found both/,
  ],
  [
    "neither covs nor stds",
    edit((d) => delete d.covs),
    /"covs" and "stds": expected exactly one.*found neither/,
  ],
];
for (const [what, text, pattern] of WHOLE) {
  Deno.test(`gmm spec: ${what} is an input error naming the file`, () => {
    const msg = inputError(text);
    assert.ok(msg.startsWith(`${SOURCE}: `), msg);
    assert.match(msg, pattern);
  });
}

Deno.test("gmm spec: a missing file is an input error naming the path", async () => {
  const path = "/nonexistent/dir/mix.json";
  await assert.rejects(
    loadGmmSpec(path),
    (e: Error) => e instanceof InputError && e.message.startsWith(path),
  );
});

// The limits are tolerances for printed round-off, not loopholes: just inside passes, just
// outside fails.
Deno.test("gmm spec: weight-sum and symmetry tolerances sit where documented", () => {
  assert.doesNotThrow(() => parseGmmSpec(edit((d) => d.weights = [0.25, 0.7500009]), SOURCE));
  assert.throws(() => parseGmmSpec(edit((d) => d.weights = [0.25, 0.7500011]), SOURCE), InputError);
  // largest |Σ_ij| of covs[0] is 2, so asymmetry up to 2e-9 is round-off
  const skew = (e: number) => edit((d) => (d.covs as number[][][])[0][0][1] = 0.5 + e);
  const spec = parseGmmSpec(skew(1.9e-9), SOURCE);
  assert.equal(spec.covs![0][0][1], spec.covs![0][1][0], "accepted matrices are symmetrised");
  assert.throws(() => parseGmmSpec(skew(2.1e-9), SOURCE), InputError);
});

Deno.test("gmm spec: valid files parse, with shape defaulting to [D]", async () => {
  const full = parseGmmSpec(JSON.stringify(VALID), SOURCE);
  assert.deepEqual(full.shape, [2]);
  assert.equal(full.source, SOURCE);
  assert.deepEqual(full.covs, VALID.covs);
  assert.equal(full.stds, undefined);
  const iso = parseGmmSpec(
    edit((d) => (delete d.covs, d.stds = [1, 2], d.shape = [2, 1, 1])),
    SOURCE,
  );
  assert.deepEqual([iso.stds, iso.shape, iso.covs], [[1, 2], [2, 1, 1], undefined]);
  const mix2d = await loadGmmSpec(fixture("mix2d.json"));
  assert.deepEqual([mix2d.weights.length, mix2d.means[0].length], [3, 2]);
  const mix10d = await loadGmmSpec(fixture("mix10d.json"));
  assert.deepEqual([mix10d.weights.length, mix10d.means[0].length], [4, 10]);
  assert.ok(mix10d.covs!.every((c) => c.some((row, i) => row.some((v, j) => i !== j && v !== 0))));
});
