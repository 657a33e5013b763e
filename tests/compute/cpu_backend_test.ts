/**
 * The cpu backend's own machinery, which the parity table does not reach: its buffer pool, the
 * layouts that pick each binary fast path, strided copies, reductions over every grouping of
 * axes, term counts of weightedSum, the branch-free exp, and Adam. The float32 reference on the
 * same data is the oracle. Every output lands in a pooled array poisoned with NaN first, so a
 * kernel that leaves an element unwritten fails.
 */

import assert from "node:assert/strict";
import { cpuTest } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import type { Backend, BinaryOp, Storage, UnaryOp, View } from "../../compute/backend.ts";
import { referenceBackend } from "../../compute/select.ts";
import { contiguousStrides, sizeOf } from "../../compute/shape.ts";
import { bucketElements, type CpuStorage } from "../../compute/cpu/storage.ts";
import { simplify } from "../../compute/cpu/strided.ts";
import { exp } from "../../compute/cpu/exp.ts";

const ref = referenceBackend();

/** n float32 values of a fixed pattern; every third one on a grid of quarters, so ties occur. */
function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => {
    const v = 3 * Math.sin(12.9898 * (i + 1) + 78.233 * seed);
    return i % 3 === 0 ? Math.round(4 * v) / 4 : v;
  });
}

/**
 * Runs `op` on `be` with the inputs uploaded and an output of `outLength`; on the cpu backend
 * the output's pooled array holds NaN beforehand. Frees everything it allocated.
 */
async function run(
  be: Backend,
  inputs: Float32Array[],
  outLength: number,
  op: (ins: Storage[], out: Storage) => void,
): Promise<Float32Array | Float64Array> {
  const ins = inputs.map((x) => {
    const s = be.alloc(x.length, "f32");
    be.write(s, x);
    return s;
  });
  if (be !== ref) {
    const poison = be.alloc(outLength, "f32");
    be.fill(poison, NaN);
    be.free(poison);
  }
  const out = be.alloc(outLength, "f32");
  op(ins, out);
  const result = await be.read(out);
  for (const s of [...ins, out]) be.free(s);
  return result;
}

/** The same op on the cpu backend and on the float32 reference. */
async function both(
  cpu: Backend,
  inputs: Float32Array[],
  outLength: number,
  op: (be: Backend, ins: Storage[], out: Storage) => void,
) {
  return {
    got: await run(cpu, inputs, outLength, (i, o) => op(cpu, i, o)),
    want: await run(ref, inputs, outLength, (i, o) => op(ref, i, o)),
  };
}

cpuTest("cpu pool: a freed array is reused, liveBytes returns to its start", (cpu) => {
  const start = cpu.liveBytes();
  const a = cpu.alloc(1000, "f32") as CpuStorage;
  assert.equal(cpu.liveBytes(), start + 4000, "live bytes count the length, not the bucket");
  const whole = a.whole;
  cpu.free(a);
  const b = cpu.alloc(900, "f32") as CpuStorage; // 900 and 1000 share the 1024 bucket
  assert.equal(b.whole, whole, "the same array comes back");
  assert.equal(b.data.length, 900);
  cpu.free(b);
  assert.equal(cpu.liveBytes(), start);
  assert.throws(() => cpu.free(b), /freed twice/);
  assert.throws(() => cpu.alloc(4, "f64"), /float32 only/);
});

cpuTest("cpu pool: buckets hold the length with at most 25% slack", () => {
  for (const n of [1, 63, 64, 65, 100, 1000, 1024, 1025, 3_000_001]) {
    const b = bucketElements(n);
    assert.ok(b >= n && (n <= 64 || b <= 1.25 * n), `bucket ${b} for ${n}`);
  }
});

cpuTest("cpu pool: repeated steps allocate no new arrays", (cpu) => {
  const seen = new Set<Float32Array>();
  const step = () => {
    const fresh: Storage[] = [];
    for (const n of [10, 500, 500, 4096, 77]) {
      const s = cpu.alloc(n, "f32") as CpuStorage;
      seen.add(s.whole);
      cpu.fill(s, 1);
      fresh.push(s);
    }
    for (const s of fresh) cpu.free(s);
  };
  step();
  const after = seen.size;
  for (let i = 0; i < 5; i++) step();
  assert.equal(seen.size, after, "steady state is all pool hits");
});

const binaryOps: BinaryOp[] = [
  "add",
  "sub",
  "mul",
  "div",
  "maximum",
  "minimum",
  "lt",
  "eq",
  "siluGrad",
];

interface Layout {
  name: string;
  shape: number[];
  a: { length: number; view: View };
  b: { length: number; view: View };
  /** simplified dims and the innermost strides of a and b, which pick the row loop */
  dims: number[];
  inner: [number, number];
}

const full = (shape: number[], offset = 0) => ({
  length: offset + sizeOf(shape),
  view: { offset, strides: contiguousStrides(shape) },
});
const spread = (length: number, strides: number[], offset = 0) => ({
  length,
  view: { offset, strides },
});

const layouts: Layout[] = [
  {
    name: "same shape, contiguous (one row)",
    shape: [2, 3, 4, 5],
    a: full([2, 3, 4, 5]),
    b: full([2, 3, 4, 5], 7),
    dims: [1, 120],
    inner: [1, 1],
  },
  {
    name: "b a scalar",
    shape: [2, 3, 4, 5],
    a: full([2, 3, 4, 5]),
    b: spread(1, [0, 0, 0, 0]),
    dims: [1, 120],
    inner: [1, 0],
  },
  {
    name: "a a scalar",
    shape: [6, 7],
    a: spread(3, [0, 0], 2),
    b: full([6, 7]),
    dims: [1, 42],
    inner: [0, 1],
  },
  {
    name: "per-channel bias [1, C, 1, 1] (a scalar per row)",
    shape: [2, 3, 4, 5],
    a: full([2, 3, 4, 5]),
    b: spread(3, [0, 1, 0, 0]),
    dims: [2, 3, 20],
    inner: [1, 0],
  },
  {
    name: "per-channel a, full b",
    shape: [2, 3, 4, 5],
    a: spread(3, [0, 1, 0, 0]),
    b: full([2, 3, 4, 5]),
    dims: [2, 3, 20],
    inner: [0, 1],
  },
  {
    name: "last-axis bias (contiguous rows, b restarting)",
    shape: [2, 3, 4, 5],
    a: full([2, 3, 4, 5]),
    b: spread(5, [0, 0, 0, 1]),
    dims: [24, 5],
    inner: [1, 1],
  },
  {
    name: "row broadcast [N, C, 1, 1]",
    shape: [2, 3, 4, 5],
    a: full([2, 3, 4, 5]),
    b: spread(6, [3, 1, 0, 0]),
    dims: [6, 20],
    inner: [1, 0],
  },
  {
    name: "transposed a (strided rows)",
    shape: [4, 5, 6],
    a: spread(120, [30, 1, 5]),
    b: full([4, 5, 6]),
    dims: [4, 5, 6],
    inner: [5, 1],
  },
  {
    name: "outer product [4, 1] × [1, 5]",
    shape: [4, 5],
    a: spread(4, [1, 0]),
    b: spread(5, [0, 1]),
    dims: [4, 5],
    inner: [0, 1],
  },
  {
    name: "a slice with an offset, b every other element",
    shape: [3, 8],
    a: spread(40, [12, 1], 3),
    b: spread(48, [16, 2], 1),
    dims: [3, 8],
    inner: [1, 2],
  },
];

for (const l of layouts) {
  cpuTest(`cpu binary: ${l.name} takes its row loop and matches the reference`, async (cpu) => {
    const out = contiguousStrides(l.shape);
    const s = simplify(l.shape, [l.a.view.strides, l.b.view.strides, out]);
    assert.deepEqual(s.dims, l.dims, "simplified dims");
    const r = s.dims.length - 1;
    assert.deepEqual([s.strides[0][r], s.strides[1][r]], l.inner, "innermost strides");
    const A = values(l.a.length, 1), B = values(l.b.length, 2);
    for (const op of binaryOps) {
      const { got, want } = await both(cpu, [A, B], sizeOf(l.shape), (be, [a, b], o) => {
        be.binary(op, a, l.a.view, b, l.b.view, l.shape, o);
      });
      assertAllClose(got, want, op === "siluGrad" ? tol.f32Elementwise : tol.exact, op);
    }
  });
}

cpuTest("cpu where: broadcast condition and operands match the reference", async (cpu) => {
  const shape = [2, 3, 4, 5], n = sizeOf(shape);
  const cond = Float32Array.from(values(n, 3), (v) => (v > 0 ? 1 : 0));
  const cases: [View, View, View, number[]][] = [
    [full(shape).view, full(shape).view, full(shape).view, [n, n, n]],
    [spread(3, [0, 1, 0, 0]).view, full(shape).view, spread(1, [0, 0, 0, 0]).view, [3, n, 1]],
    [full(shape).view, spread(5, [0, 0, 0, 1]).view, spread(120, [1, 2, 6, 24]).view, [n, 5, n]],
  ];
  for (const [cv, av, bv, lengths] of cases) {
    const inputs = [cond.subarray(0, lengths[0]), values(lengths[1], 4), values(lengths[2], 5)];
    const { got, want } = await both(cpu, inputs, n, (be, [c, a, b], o) => {
      be.where(c, cv, a, av, b, bv, shape, o);
    });
    assertAllClose(got, want, tol.exact, "where");
  }
});

const copies: { name: string; shape: number[]; src: [number, View]; dst: [number, View] }[] = [
  {
    name: "a long contiguous run into a window",
    shape: [100],
    src: [100, { offset: 0, strides: [1] }],
    dst: [130, { offset: 20, strides: [1] }],
  },
  {
    name: "a broadcast source over long rows",
    shape: [3, 40],
    src: [3, { offset: 0, strides: [1, 0] }],
    dst: [120, { offset: 0, strides: [40, 1] }],
  },
  {
    name: "short rows into a concatenation",
    shape: [3, 5],
    src: [15, { offset: 0, strides: [5, 1] }],
    dst: [24, { offset: 3, strides: [8, 1] }],
  },
  {
    name: "a transpose",
    shape: [6, 7],
    src: [42, { offset: 0, strides: [1, 6] }],
    dst: [42, { offset: 0, strides: [7, 1] }],
  },
  {
    name: "nearest upsampling ×2",
    shape: [2, 3, 2, 3, 2],
    src: [18, { offset: 0, strides: [9, 3, 0, 1, 0] }],
    dst: [72, { offset: 0, strides: [36, 12, 6, 2, 1] }],
  },
];

for (const c of copies) {
  cpuTest(`cpu copy: ${c.name} matches the reference`, async (cpu) => {
    const S = values(c.src[0], 6), D = values(c.dst[0], 7);
    const whole = await both(cpu, [S, D], c.dst[0], (be, [s, d], o) => {
      be.copy(s, c.src[1], d, c.dst[1], c.shape);
      be.copy(d, { offset: 0, strides: [1] }, o, { offset: 0, strides: [1] }, [c.dst[0]]);
    });
    assertAllClose(whole.got, whole.want, tol.exact, "destination");
  });
}

cpuTest("cpu copy: an overlapping shift within one storage copies in index order", async (cpu) => {
  const { got, want } = await both(cpu, [values(40, 8)], 40, (be, [x], o) => {
    be.copy(x, { offset: 0, strides: [1] }, x, { offset: 1, strides: [1] }, [39]);
    be.copy(x, { offset: 0, strides: [1] }, o, { offset: 0, strides: [1] }, [40]);
  });
  assertAllClose(got, want, tol.exact, "shifted");
});

cpuTest("cpu reduce: every grouping of axes matches the reference exactly", async (cpu) => {
  const cases: [number[], number[]][] = [
    [[3, 4, 5, 6], [0, 2, 3]],
    [[3, 4, 5, 6], [1, 3]],
    [[3, 4, 5, 6], [3]],
    [[3, 4, 5, 6], [0]],
    [[3, 4, 5, 6], [0, 1, 2, 3]],
    [[3, 4, 5, 6], []],
    [[4, 1, 6], [1]],
    [[4, 1, 6], [0, 2]],
    [[5, 2, 3, 2], [1, 3]],
    [[2, 0, 3], [1]],
    [[1], [0]],
  ];
  for (const [shape, axes] of cases) {
    const kept = sizeOf(shape.filter((_, d) => !axes.includes(d)));
    const X = values(Math.max(1, sizeOf(shape)), 9);
    X[5 % X.length] = NaN; // max propagates it like the reference's Math.max
    for (const op of ["sum", "max"] as const) {
      if (op === "max" && sizeOf(shape) === 0) continue;
      const { got, want } = await both(cpu, [X], Math.max(1, kept), (be, [x], o) => {
        be.reduce(op, x, shape, axes, o);
      });
      assertAllClose(got, want, tol.exact, `${op} of [${shape}] over [${axes}]`);
    }
  }
});

cpuTest("cpu weightedSum: every term count matches the reference exactly", async (cpu) => {
  const n = 37, weights = [0.5, -1.25, 3, 1e-3, -7, 0.1, 2.5, -0.75];
  for (let k = 0; k <= weights.length; k++) {
    const terms = Array.from({ length: k }, (_, j) => values(n, 10 + j));
    const { got, want } = await both(cpu, terms, n, (be, ts, o) => {
      be.weightedSum(ts, weights.slice(0, k), n, o);
    });
    assertAllClose(got, want, tol.exact, `${k} terms`);
  }
});

cpuTest("cpu unary: every op matches the reference, extremes included", async (cpu) => {
  const extremes = [
    -1000,
    -100,
    -20,
    -1e-3,
    -0,
    0,
    1e-3,
    20,
    88,
    100,
    1000,
    Infinity,
    -Infinity,
    NaN,
  ];
  const X = Float32Array.from([...extremes, ...values(200, 11)]);
  const ops: UnaryOp[] = [
    "neg",
    "exp",
    "log",
    "sin",
    "cos",
    "sqrt",
    "recip",
    "tanh",
    "sigmoid",
    "silu",
    "abs",
    "sign",
  ];
  for (const op of ops) {
    const { got, want } = await both(cpu, [X], X.length, (be, [x], o) => be.unary(op, x, o));
    const viaExp = op === "exp" || op === "sigmoid" || op === "silu";
    assertAllClose(got, want, viaExp ? tol.f32Elementwise : tol.exact, op);
  }
});

cpuTest("cpu exp: relative error against Math.exp, and its special values", () => {
  const xs = Array.from({ length: 20001 }, (_, i) => -700 + 0.07 * i + 1e-3 * Math.sin(i));
  const got = xs.map(exp), want = xs.map(Math.exp);
  assertAllClose(got, want, tol.cpuExp, "e^x on [−700, 700]");
  assert.equal(exp(0), 1);
  assert.ok(Number.isNaN(exp(NaN)));
  assert.deepEqual([exp(Infinity), exp(-Infinity), exp(1000), exp(-1000)], [
    Infinity,
    0,
    Infinity,
    0,
  ]);
});

cpuTest("cpu adam: three steps equal the reference's float32 steps; gate 0 skips", async (cpu) => {
  const n = 400, grads = [values(n, 12), values(n, 13), values(n, 14)];
  const p = { lr: 0.5, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
  const steps = (gate: number) => (be: Backend, ins: Storage[], out: Storage) => {
    const [param, m, v, g0, g1, g2, open] = ins;
    be.fill(m, 0);
    be.fill(v, 0);
    be.fill(open, gate);
    [g0, g1, g2].forEach((g, t) => {
      be.adam(param, g, m, v, open, {
        ...p,
        bias1: 1 - p.beta1 ** (t + 1),
        bias2: 1 - p.beta2 ** (t + 1),
      });
    });
    // param, m and v side by side
    [param, m, v].forEach((x, i) => {
      be.copy(x, { offset: 0, strides: [1] }, out, { offset: i * n, strides: [1] }, [n]);
    });
  };
  const inputs = [values(n, 15), new Float32Array(n), new Float32Array(n), ...grads, [1]]
    .map((x) => Float32Array.from(x));
  const open = await both(cpu, inputs, 3 * n, steps(1));
  assertAllClose(open.got, open.want, tol.exact, "param, m and v after three steps");
  assert.notDeepEqual(open.got.subarray(0, n), inputs[0], "the parameters moved");
  const shut = await both(cpu, inputs, 3 * n, steps(0));
  const untouched = Float32Array.from([...inputs[0], ...new Float32Array(2 * n)]);
  assertAllClose(shut.got, untouched, tol.exact, "a closed gate leaves parameters and moments");
});
