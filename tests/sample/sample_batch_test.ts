import assert from "node:assert/strict";
import { referenceBackend, Rng } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { VpSde } from "../../sde/vp.ts";
import { sampleBatch, type SamplerSpec, type TrackSpec } from "../../sample/sample_batch.ts";
import { fixture } from "../data/gmm_oracle.ts";

const be = referenceBackend();
const model = await GmmModel.load(fixture("mix2d.json"), new VpSde());
const SPECS: SamplerSpec[] = [
  { kind: "em", steps: 8 },
  { kind: "pc", steps: 8, snr: 0.16, correctorSteps: 1, norms: "example" },
  { kind: "ode", rtol: 1e-4, atol: 1e-4 },
  { kind: "heun", steps: 8 },
  { kind: "euler", steps: 8 },
  { kind: "lm", steps: 8 },
];
/** Samplers without log-density tracking (refused by the command). */
const untracked = (s: SamplerSpec) => s.kind === "pc" || s.kind === "lm";
const TRACK: TrackSpec = { divergence: "hutchinson", probe: "rademacher", prior: "exact" };

// Device memory is not garbage-collected: a batch must free everything it made but its
// readbacks, so a second batch leaves live bytes where the first one did.
Deno.test("sampleBatch frees every tensor it makes, for every sampler", async () => {
  for (const sampler of SPECS) {
    const track = untracked(sampler) ? undefined : TRACK;
    const o = {
      sampler,
      tMin: 1e-3,
      track,
      rng: Rng.fromSeed(1),
      backend: be,
      dtype: "f64" as const,
    };
    await sampleBatch(model, o, 0, 4); // uploads the mixture's constants once
    const before = be.liveBytes();
    const r = await sampleBatch(model, o, 4, 4);
    assert.equal(be.liveBytes(), before, `${sampler.kind} leaked`);
    assert.equal(r.x.length, 8);
    assert.equal(r.logp?.length, track ? 4 : undefined);
  }
});

// Every draw is keyed by the global index: samples 3…5 are the same in a batch of 6 as in a
// batch of 3 starting at 3 (per-example Langevin norms included; batch norms couple a batch).
// The LM chain's per-step draws too: batches sharing one stream would share their noise.
Deno.test("sampleBatch: a sample does not depend on its batch", async () => {
  for (const sampler of SPECS) {
    const track = untracked(sampler) ? undefined : TRACK;
    const o = {
      sampler,
      tMin: 1e-3,
      track,
      rng: Rng.fromSeed(5),
      backend: be,
      dtype: "f64" as const,
    };
    const whole = await sampleBatch(model, o, 0, 6), tail = await sampleBatch(model, o, 3, 3);
    assert.deepEqual(tail.x, whole.x.subarray(6), `${sampler.kind}: samples`);
    if (track) assert.deepEqual(tail.logp, whole.logp!.subarray(3), `${sampler.kind}: log p`);
    assert.deepEqual(tail.nfe, whole.nfe.subarray(3), `${sampler.kind}: NFE`);
  }
});
