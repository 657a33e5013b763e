/**
 * The run directory (`--out`): a run in it is continued only with --resume and replaced only
 * with --force (which removes the old run's files first); it is locked while a run writes it;
 * a file or an unwritable folder is refused before any work, in one line.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, runMain } from "../_helpers/cli.ts";

const STACK = /at .*\.ts:\d+/;
const tiny = [
  "train",
  "--batch",
  "32",
  "--hidden",
  "16",
  "--layers",
  "2",
  "--n-train",
  "256",
  "--eval-examples",
  "2",
  "--log-every",
  "5",
  "--backend",
  "reference",
];
const steps = (n: number) => ["--steps", String(n)];

/** A folder this process cannot create files in (read-only; /sys for root, who writes anywhere). */
async function unwritableFolder(dir: string): Promise<string> {
  const ro = join(dir, "read-only");
  await Deno.mkdir(ro);
  await Deno.chmod(ro, 0o555);
  for (const candidate of [ro, "/sys", "/proc"]) {
    try {
      await Deno.remove(await Deno.makeTempFile({ dir: candidate }));
    } catch {
      return candidate;
    }
  }
  throw new Error("no unwritable folder found on this machine");
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

const metricSteps = async (dir: string) =>
  (await Deno.readTextFile(join(dir, "metrics.jsonl"))).trim().split("\n").map((l) =>
    JSON.parse(l).step
  );

Deno.test("an --out holding a run is refused without --resume or --force; --force starts it over clean", async () => {
  const dir = await Deno.makeTempDir({ prefix: "run_dir_" });
  const first = await runMain([...tiny, ...steps(20), "--keep", "1", "--out", dir, "--quiet"]);
  assert.equal(first.code, 0, first.stderr);
  await Deno.writeTextFile(join(dir, "notes.txt"), "mine");
  const before = await Deno.readFile(join(dir, "ckpt.safetensors"));

  const again = await runMain([...tiny, ...steps(10), "--out", dir, "--quiet"]);
  assert.equal(again.code, 2, again.stderr);
  assert.equal(
    again.stderr.trim(),
    `error: --out ${dir} already holds a training run (checkpoint at step 20); ` +
      "pass --resume to continue it or --force to overwrite it",
  );
  assert.deepEqual(await Deno.readFile(join(dir, "ckpt.safetensors")), before, "untouched");
  assert.ok(!(await names(dir)).includes("train.lock"), "the refusal releases the lock");

  const both = await runMain([...tiny, ...steps(10), "--out", dir, "--resume", "--force"]);
  assert.equal(both.code, 2, both.stderr);
  assert.match(both.stderr, /--resume and --force conflict/);

  const forced = await runMain([...tiny, ...steps(10), "--out", dir, "--force", "--quiet"]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /--force: removed the previous run's files from .*ckpt-000020/);
  assert.deepEqual(await metricSteps(dir), [5, 10], "no line of the old run survives");
  assert.deepEqual(await names(dir), [
    "ckpt.safetensors",
    "eval.json",
    "loss.svg",
    "metrics.jsonl",
    "notes.txt",
    "state.safetensors",
  ]);
});

Deno.test("--out naming a file exits 2; an --out that cannot be written exits 1 before any work", async () => {
  const dir = await Deno.makeTempDir({ prefix: "run_dir_" });
  const file = join(dir, "plain.txt");
  await Deno.writeTextFile(file, "x");
  const onFile = await runMain([...tiny, ...steps(5), "--out", file]);
  assert.equal(onFile.code, 2, onFile.stderr);
  assert.match(onFile.stderr, /^error: --out .*plain\.txt is a file; --out names a run directory/);
  const under = await runMain([...tiny, ...steps(5), "--out", join(file, "run")]);
  assert.equal(under.code, 2, under.stderr);
  assert.match(under.stderr, /^error: --out .*plain\.txt\/run: .*plain\.txt is a file, so it/);

  const ro = await unwritableFolder(dir);
  const started = performance.now();
  const r = await runMain([...tiny, ...steps(5), "--out", ro]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^error: cannot write in ${ro} \\(--out\\): `, "m"));
  assert.doesNotMatch(r.stderr, STACK);
  assert.doesNotMatch(r.stderr, /training steps|backend/, "refused before the backend and data");
  assert.ok(performance.now() - started < 30_000);
  if (ro.startsWith(dir)) assert.deepEqual(await names(ro), [], "nothing written");
});

Deno.test("a run holds train.lock: another run on the same --out is refused naming the holder; a stale lock is taken over; errors release it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "run_dir_" });
  const lock = join(dir, "train.lock");
  // this test's own process stands for a live run: it holds the file lock
  const holder = await Deno.open(lock, { read: true, write: true, create: true });
  assert.ok(await holder.tryLock(true));
  await holder.write(new TextEncoder().encode(JSON.stringify({ pid: Deno.pid })));
  const held = await runMain([...tiny, ...steps(5), "--out", dir, "--quiet"]);
  holder.close();
  assert.equal(held.code, 1, held.stderr);
  assert.match(held.stderr, new RegExp(`^error: ${lock} is held by pid ${Deno.pid}: another`));
  assert.doesNotMatch(held.stderr, STACK);
  assert.deepEqual(await names(dir), ["train.lock"], "nothing written beside a held lock");

  // a run that was killed leaves the file, and no process holds its lock
  const gone = new Deno.Command(Deno.execPath(), { args: ["eval", "0"], cwd: ROOT }).spawn();
  await gone.status;
  await Deno.writeTextFile(lock, JSON.stringify({ pid: gone.pid }));
  const stale = await runMain([...tiny, ...steps(5), "--out", dir, "--quiet"]);
  assert.equal(stale.code, 0, stale.stderr);
  assert.match(
    stale.stderr,
    new RegExp(`notice: taking over the stale lock ${lock} of pid ${gone.pid}, which is no`),
  );
  assert.ok(!(await names(dir)).includes("train.lock"), "released after a run");

  const empty = await Deno.makeTempDir({ prefix: "run_dir_" });
  const failed = await runMain([...tiny, ...steps(5), "--out", empty, "--resume", "--quiet"]);
  assert.equal(failed.code, 3, failed.stderr);
  assert.match(failed.stderr, /ckpt\.safetensors: not found; --resume continues the run/);
  assert.deepEqual(await names(empty), [], "released after an error");
});
