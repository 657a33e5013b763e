import assert from "node:assert/strict";
import { join } from "node:path";
import { Rng, type Tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { InputError, UsageError } from "../../io/errors.ts";
import { VpSde } from "../../sde/vp.ts";
import { chiQuantile } from "../../sde/special.ts";
import { parseScheduleExpr } from "../../sample/guidance/schedule_expr.ts";
import {
  type BSchedule,
  expressionSchedule,
  loadBSchedule,
  parseScheduleTable,
  tableSchedule,
} from "../../sample/guidance/b_schedule.ts";
import { bScheduleSample } from "../../sample/guidance/b_guidance.ts";
import { eachBackend } from "../_helpers/backends.ts";
import { runMain } from "../_helpers/cli.ts";
import { tol } from "../_helpers/tolerances.ts";

const VP = new VpSde();
const T_MIN = VP.tMinSampling;
const dir = await Deno.makeTempDir({ prefix: "b_schedule_" });

Deno.test("schedule expressions: precedence, associativity and functions", () => {
  const cases: [string, number, number][] = [
    ["-50*t*(1-t)", 0.5, -12.5],
    ["1 - 2 - 3", 0, -4],
    ["8/4/2", 0, 1],
    ["2^3^2", 0, 512],
    ["-t^2", 3, -9],
    ["(-t)^2", 3, 9],
    ["2*-t", 1.5, -3],
    ["1.5e2 + .5", 0, 150.5],
    ["exp(log(t)) + sqrt(4) + sin(0) + cos(0)", 0.25, 3.25],
    [" +t  /  2 ", 1, 0.5],
  ];
  for (const [text, t, want] of cases) {
    assert.ok(Math.abs(parseScheduleExpr(text, "--b-schedule")(t) - want) < 1e-12, text);
  }
});

Deno.test("schedule expressions: anything but the grammar is a UsageError naming the flag and position", () => {
  for (
    const [text, fragment] of [
      ["x*t", "unknown name 'x'"],
      ["eval(1)", "unknown name 'eval'"],
      ["Deno.exit(1)", "unexpected character '.'"],
      ["t; 1", "unexpected character ';'"],
      ["(1 + t", "expected ')'"],
      ["2 t", "expected an operator"],
      ["exp t", "expected '(' after exp"],
      ["", "expected a number"],
      ["1 +", "expected a number"],
    ]
  ) {
    assert.throws(
      () => parseScheduleExpr(text, "--b-schedule"),
      (e: Error) =>
        e instanceof UsageError && e.message.includes("--b-schedule") &&
        e.message.includes(fragment) && e.message.includes("position"),
      text,
    );
  }
});

Deno.test("schedule tables: CSV and JSON forms, linear interpolation, the exact integral", async () => {
  const csv = parseScheduleTable("# a comment\nt,b\n0, 0\n0.5,20\n1,5\n", "s.csv");
  const json = parseScheduleTable('[[0, 0], {"t": 0.5, "b": 20}, [1, 5]]', "s.json");
  assert.deepEqual(csv, [[0, 0], [0.5, 20], [1, 5]]);
  assert.deepEqual(json, csv);
  const s = tableSchedule(csv, "s.csv");
  assert.equal(s.at(0.25), 10);
  assert.equal(s.at(0.75), 12.5);
  // −∫ of the interpolant over [0.1, 0.9]: −[0.4·(4 + 20)/2 + 0.4·(20 + 8)/2] = −10.4
  assert.ok(Math.abs(s.predictedShift(0.1, 0.9) + 10.4) < 1e-12);
  // the expression's Simpson integral: −∫_{1e-3}^1 −50t(1−t) dt in closed form
  const e = expressionSchedule("-50*t*(1-t)"), a = T_MIN;
  const exact = 50 * ((1 / 2 - 1 / 3) - (a * a / 2 - a ** 3 / 3));
  assert.ok(Math.abs(e.predictedShift(a, 1) - exact) < 1e-12 * exact);

  const bad = (text: string, path: string, fragment: string) =>
    assert.throws(
      () => parseScheduleTable(text, path),
      (err: Error) => err instanceof InputError && err.message.includes(fragment),
      fragment,
    );
  bad("0,1\n0,2\n", "s.csv", "times must increase strictly");
  bad("0,1\n", "s.csv", "at least 2 rows");
  bad("0,1\n0.5,x\n", "s.csv", "line 2 should be two numbers");
  bad("[[0, 1], [1]]", "s.json", "entry 1 should be [t, b]");
  bad("{", "s.json", "not valid JSON");

  const short = join(dir, "short.csv");
  await Deno.writeTextFile(short, "0.01,0\n1,1\n");
  await assert.rejects(
    () => loadBSchedule(short, T_MIN, 1),
    (err: Error) => err instanceof UsageError && err.message.includes("covers t in [0.01, 1]"),
  );
  await assert.rejects(
    () => loadBSchedule(join(dir, "missing.json"), T_MIN, 1),
    (err: Error) => err instanceof InputError && err.message.includes("cannot read"),
  );
  await assert.rejects(
    () => loadBSchedule("log(t-0.5)", T_MIN, 1),
    (err: Error) => err instanceof UsageError && err.message.includes("must be finite"),
  );
});

// ---- the realised shift on a Gaussian ----------------------------------------------------

const C = 0.5, D = 32, B = 8;
const MU = Array.from({ length: D }, (_, i) => 0.2 * Math.sin(i + 1));
const gauss = GmmModel.isotropic({ weights: [1], means: [MU], stds: [C] }, VP);
const v = (t: number) => VP.alpha(t) ** 2 * C * C + VP.sigma(t) ** 2;

/**
 * The PF-ODE end points from x_T rescaled to the median norm, in closed form: the flow keeps
 * (x_t − α_t μ)/√v_t fixed, so x_0 = α_0 μ + √(v_0/v_T)(x_T − α_T μ).
 */
function pfClosedForm(xT: Float64Array): Float64Array {
  const r = chiQuantile(D, 0.5) * VP.priorStd, a0 = VP.alpha(T_MIN), aT = VP.alpha(VP.T);
  const out = new Float64Array(B * D);
  for (let b = 0; b < B; b++) {
    const row = xT.subarray(b * D, (b + 1) * D);
    const scale = r / Math.sqrt(row.reduce((p, x) => p + x * x, 0));
    row.forEach((x, i) => {
      out[b * D + i] = a0 * MU[i] + Math.sqrt(v(T_MIN) / v(VP.T)) * (x * scale - aT * MU[i]);
    });
  }
  return out;
}

const logpRows = (x: ArrayLike<number>) =>
  Array.from(
    { length: B },
    (_, b) => gauss.logpHost(Array.from(x).slice(b * D, (b + 1) * D), T_MIN),
  );
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;

const SCHEDULES: BSchedule[] = [
  expressionSchedule("-50*t*(1-t)"), // raises log p_0 by 8.333 nats
  tableSchedule([[0, 0], [0.5, 20], [1, 5]], "a table"), // lowers it by 11.25
];

eachBackend(
  "a b_t schedule moves the Gaussian's log p_0 by −∫b_t dt, the error shrinking with steps",
  async ({ backend, dtype, name }) => {
    for (const schedule of SCHEDULES) {
      const predicted = schedule.predictedShift(T_MIN, VP.T);
      for (const seed of [1, 2]) {
        const xT = Rng.fromSeed(seed).normal(backend, [B, D], dtype);
        // a Rademacher probe is exact here: Δlog p_t = −D/v_t for every ±1 vector
        const probe = Rng.fromSeed(seed + 1).rademacher(backend, [B, D], dtype);
        const baseline = logpRows(pfClosedForm(Float64Array.from(await xT.read())));
        const errors: number[] = [];
        for (const steps of [8, 16]) {
          const r = await bScheduleSample((x: Tensor, t: Tensor) => gauss.score(x, t), VP, xT, {
            schedule,
            tMin: T_MIN,
            rtol: 1e-5,
            atol: 1e-5,
            fixedSteps: steps,
            divergence: { method: "hutchinson", probe },
          });
          assert.ok(r.withheld.every((w) => w === 0), "a reachable target must not be clamped");
          const realised = mean(logpRows(r.x).map((l, i) => l - baseline[i]));
          errors.push(realised - predicted);
        }
        console.log(
          `${name}, b_t = ${schedule.source}, seed ${seed}: predicted ${predicted.toFixed(4)} ` +
            `nats; realised − predicted ${errors[0].toExponential(2)} at 8 DP5 steps, ` +
            `${errors[1].toExponential(2)} at 16`,
        );
        assert.ok(
          Math.abs(errors[1]) < tol.bScheduleShift.rtol * Math.abs(predicted),
          tol.bScheduleShift.why,
        );
        assert.ok(Math.abs(errors[1]) < 0.5 * Math.abs(errors[0]), "the error shrinks with steps");
        xT.dispose();
        probe.dispose();
      }
    }
  },
);

// ---- the command line --------------------------------------------------------------------

Deno.test("guidance --b-schedule: a table file's predicted and realised shift, and its refusals", async () => {
  const spec = join(dir, "gauss.json"), table = join(dir, "b.csv"), out = join(dir, "x.json");
  await Deno.writeTextFile(spec, JSON.stringify({ weights: [1], means: [MU], stds: [C] }));
  await Deno.writeTextFile(table, "t,b\n0,0\n0.5,20\n1,5\n");
  const base = ["guidance", "--model", `gmm:${spec}`, "--backend", "reference", "--quiet"];
  const r = await runMain([
    ...base,
    "--b-schedule",
    table,
    "--steps",
    "16",
    "--n",
    "8",
    "--out",
    out,
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.mode, "b-schedule");
  assert.deepEqual(doc.b_schedule, { kind: "table", source: table });
  const predicted = SCHEDULES[1].predictedShift(T_MIN, VP.T);
  assert.ok(Math.abs(doc.predicted_shift_nats - predicted) < 1e-12);
  // tracked log p_0 on both sides, from the same latents and probe: DP5 error only
  assert.ok(
    Math.abs(doc.realised_shift_nats - predicted) < tol.bScheduleShift.rtol * Math.abs(predicted),
    `realised ${doc.realised_shift_nats} vs predicted ${predicted}`,
  );
  for (
    const [args, fragment] of [
      [["--b-schedule", "-t", "--q", "0.3"], "--q and --b-schedule conflict"],
      [["--b-schedule", "2*x"], "unknown name 'x'"],
      [["--b-schedule", "t", "--noise", "0.5"], "--noise needs --q"],
    ] as const
  ) {
    const e = await runMain([...base, ...args, "--out", out]);
    assert.equal(e.code, 2, e.stderr);
    assert.match(e.stderr, new RegExp(fragment.replace(/[()*]/g, "\\$&")));
  }
});
