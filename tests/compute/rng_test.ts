import assert from "node:assert/strict";
import { eachBackend, gpuTest } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import * as C from "../../compute/mod.ts";
import { philox4x32, uniformFromBits } from "../../compute/random/philox.ts";
import { computeGolden, type Golden, TRUNCATION_BOUND } from "../../fixtures/make_rng_golden.ts";

const ref = C.referenceBackend();
const hex = (w: number[]) => w.map((x) => x.toString(16).padStart(8, "0")).join(" ");
const moments = (xs: ArrayLike<number>) => {
  const a = Array.from(xs), n = a.length, m = a.reduce((s, v) => s + v, 0) / n;
  const v = a.reduce((s, x) => s + (x - m) ** 2, 0) / (n - 1);
  const m4 = a.reduce((s, x) => s + (x - m) ** 4, 0) / n;
  return { n, mean: m, variance: v, seMean: Math.sqrt(v / n), seVar: Math.sqrt((m4 - v * v) / n) };
};
const within4se = (got: number, want: number, se: number, what: string) =>
  assert.ok(Math.abs(got - want) < 4 * se, `${what}: ${got} vs ${want} (4 se = ${4 * se})`);

Deno.test("Philox4x32-10 known-answer vectors (Salmon et al. 2011, Random123)", () => {
  const ones = 0xffffffff;
  assert.equal(hex(philox4x32([0, 0, 0, 0], [0, 0])), "6627e8d5 e169c58d bc57ac4c 9b00dbd8");
  assert.equal(
    hex(philox4x32([ones, ones, ones, ones], [ones, ones])),
    "408f276d 41c83b0e a20bc7c6 6d5451fd",
  );
  assert.equal(
    hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])),
    "d16cfe09 94fdcceb 5001e420 24126ea1",
  );
});

const golden: Golden = JSON.parse(
  await Deno.readTextFile(new URL("../../fixtures/rng_golden.json", import.meta.url)),
);

Deno.test('the golden fixture matches fromSeed(42) and derive("noise") on float64', async () => {
  assert.deepEqual(await computeGolden(), golden);
  const [root, noise] = Object.values(golden);
  assert.notDeepEqual(root.uniform, noise.uniform, "derive gives a different stream");
  for (const s of [root, noise]) {
    assert.ok(s.uniform.every((u) => u >= 0 && u < 1 && Number.isInteger(u * 2 ** 24)));
    assert.ok(s.rademacher.every((r) => r === 1 || r === -1));
    assert.ok(s.truncatedNormal.every((z) => Math.abs(z) <= TRUNCATION_BOUND));
  }
});

eachBackend("every backend reproduces the golden draws", async ({ backend, dtype }) => {
  for (const [name, s] of Object.entries(golden)) {
    const make = () => C.Rng.fromSeed(42), n = [s.uniform.length];
    const rng = name.includes("noise") ? () => make().derive("noise") : make;
    assertAllClose(await rng().uniform(backend, n, dtype).read(), s.uniform, tol.exact, name);
    const rad = await rng().rademacher(backend, n, dtype).read();
    assertAllClose(rad, s.rademacher, tol.exact, name);
    const tl = dtype === "f64" ? tol.exact : tol.normalCrossBackend;
    assertAllClose(await rng().normal(backend, n, dtype).read(), s.normal, tl, name);
    const tn = await rng().truncatedNormal(backend, n, TRUNCATION_BOUND, dtype).read();
    assertAllClose(tn, s.truncatedNormal, tl, name);
  }
});

Deno.test("draws consume the counter: 5 then 7 values equal one draw of 12", async () => {
  const rng = C.Rng.fromSeed(3), whole = await C.Rng.fromSeed(3).uniform(ref, [12], "f64").read();
  const parts = [
    ...(await rng.uniform(ref, [5], "f64").read()),
    ...(await rng.uniform(ref, [7], "f64").read()),
  ];
  assert.deepEqual(parts, [...whole]);
  assert.equal(rng.state().counter, 12);
  const child = rng.derive("probes");
  assert.equal(rng.state().counter, 12, "derive does not advance the parent");
  assert.deepEqual(child.state(), rng.derive("probes").state(), "same purpose, same stream");
  assert.notDeepEqual(child.state().key, rng.derive("noise").state().key);
  assert.notDeepEqual(rng.derive(1).state().key, rng.derive(2).state().key);
});

gpuTest(
  "uniform bits: WebGPU equals the reference for 10,000 values and past 2^32",
  async (gpu) => {
    const cases: [string, () => C.Rng][] = [
      ["seed 9", () => C.Rng.fromSeed(9)],
      ["counter 2^32 − 5", () => new C.Rng({ key: [1, 2], counter: 2 ** 32 - 5 })],
    ];
    for (const [what, make] of cases) {
      const a = make(), b = make();
      for (const step of ["first", "second"]) {
        const got = await a.uniform(gpu, [10000]).read(),
          want = await b.uniform(ref, [10000]).read();
        assertAllClose(got, want, tol.exact, `${what}, ${step} draw`);
        const rad = [
          await a.rademacher(gpu, [10000]).read(),
          await b.rademacher(ref, [10000]).read(),
        ];
        assertAllClose(rad[0], rad[1], tol.exact, `${what}, rademacher`);
      }
    }
    // the reference carries into the counter's high word: element i hashes (c + i) as 64 bits
    const near = await new C.Rng({ key: [1, 2], counter: 2 ** 32 - 5 }).uniform(ref, [10], "f64")
      .read();
    const direct = Array.from({ length: 10 }, (_, i) => {
      const c = 2 ** 32 - 5 + i;
      return uniformFromBits(philox4x32([c % 2 ** 32, Math.floor(c / 2 ** 32), 0, 0], [1, 2])[0]);
    });
    assert.deepEqual([...near], direct);
  },
);

gpuTest("normals and truncated normals: WebGPU within float32 of the reference", async (gpu) => {
  for (const seed of [4, 5]) {
    const n = [10000], a = C.Rng.fromSeed(seed), b = C.Rng.fromSeed(seed);
    const got = await a.normal(gpu, n).read(), want = await b.normal(ref, n, "f64").read();
    assertAllClose(got, want, tol.normalCrossBackend, `normal, seed ${seed}`);
    const tg = await a.truncatedNormal(gpu, n, 2).read();
    const tw = await b.truncatedNormal(ref, n, 2, "f64").read();
    assertAllClose(tg, tw, tol.normalCrossBackend, `truncated normal, seed ${seed}`);
  }
});

/** Φ(τ) − ½ = ∫₀^τ φ by Simpson's rule (error far below the statistical tolerances). */
function phiIntegral(tau: number, steps = 2000): number {
  const phi = (z: number) => Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI), h = tau / steps;
  let s = phi(0) + phi(tau);
  for (let i = 1; i < steps; i++) s += (i % 2 ? 4 : 2) * phi(i * h);
  return (s * h) / 3;
}

eachBackend("statistics of 100k draws", async ({ backend, dtype }) => {
  const n = [100000], rng = C.Rng.fromSeed(11);
  const z = moments(await rng.normal(backend, n, dtype).read());
  within4se(z.mean, 0, 1 / Math.sqrt(z.n), "normal mean");
  within4se(z.variance, 1, Math.sqrt(2 / z.n), "normal variance");
  for (const tau of [1, 2, 3]) {
    const draws = await rng.truncatedNormal(backend, n, tau, dtype).read();
    assert.ok(draws.every((v) => Math.abs(v) <= tau), `|z| ≤ ${tau}`);
    const t = moments(draws), mass = 2 * phiIntegral(tau); // 2Φ(τ) − 1
    const variance = 1 - (2 * tau * Math.exp(-tau * tau / 2)) / Math.sqrt(2 * Math.PI) / mass;
    within4se(t.mean, 0, t.seMean, `truncated mean, τ = ${tau}`);
    within4se(t.variance, variance, t.seVar, `truncated variance, τ = ${tau}`);
  }
  const r = await rng.rademacher(backend, n, dtype).read();
  assert.ok(r.every((v) => v === 1 || v === -1), "Rademacher values are ±1");
  within4se(moments(r).mean, 0, 1 / Math.sqrt(r.length), "Rademacher mean");
  const u = await rng.uniform(backend, n, dtype).read();
  assert.ok(u.every((v) => v >= 0 && v < 1), "uniform in [0, 1)");
  within4se(moments(u).mean, 0.5, Math.sqrt(1 / 12 / u.length), "uniform mean");
  within4se(moments(u).variance, 1 / 12, moments(u).seVar, "uniform variance");
});
