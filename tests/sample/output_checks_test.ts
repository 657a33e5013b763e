/**
 * `--out` of sample, hd-mode and guidance is checked before any sampling: a folder at the path
 * or a file where a folder should be is a usage error (exit 2), a folder that refuses new files
 * a runtime failure (exit 1); each is one line naming the path, never a stack.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runMain } from "../_helpers/cli.ts";

const STACK = /at .*\.ts:\d+/;
const MIX = "gmm:fixtures/mix2d.json";
const dir = await Deno.makeTempDir({ prefix: "output_checks_" });
const commands: string[][] = [
  ["sample", "--model", MIX, "--n", "2"],
  ["hd-mode", "--model", MIX, "--n", "2"],
  ["guidance", "--model", MIX, "--n", "2", "--q", "0.3"],
];
// no --quiet: a progress line on stderr would show that sampling started
const base = ["--backend", "reference", "--divergence", "exact"];

/**
 * A folder this process cannot create files in: read-only by mode; for root, who writes there
 * anyway, made immutable with chattr; failing that, /sys (which Deno opens only under -A).
 */
async function unwritableFolder(): Promise<{ path: string; release: () => Promise<void> }> {
  const ro = join(dir, "read-only");
  await Deno.mkdir(ro);
  await Deno.chmod(ro, 0o555);
  const writable = async (folder: string) => {
    try {
      await Deno.remove(await Deno.makeTempFile({ dir: folder }));
      return true;
    } catch {
      return false;
    }
  };
  const chattr = (flag: string) =>
    new Deno.Command("chattr", { args: [flag, ro], stderr: "null" }).output().catch(() => null);
  const release = async () => {
    await chattr("-i");
  };
  if (!await writable(ro)) return { path: ro, release };
  if ((await chattr("+i"))?.success && !await writable(ro)) return { path: ro, release };
  return { path: "/sys", release };
}

Deno.test("--out naming a folder, or under a file, exits 2 before sampling", async () => {
  const folder = join(dir, "out.png");
  await Deno.mkdir(folder);
  const file = join(dir, "plain.txt");
  await Deno.writeTextFile(file, "x");
  for (const cmd of commands) {
    const track = cmd[0] === "sample" ? ["--track-logp"] : [];
    const [isFolder, underFile] = await Promise.all([
      runMain([...cmd, ...base, ...track, "--out", folder]),
      runMain([...cmd, ...base, ...track, "--out", join(file, "x.png")]),
    ]);
    assert.equal(isFolder.code, 2, `${cmd[0]}: ${isFolder.stderr}`);
    assert.match(isFolder.stderr, /--out .*out\.png is a folder; expected a file name/);
    assert.equal(underFile.code, 2, `${cmd[0]}: ${underFile.stderr}`);
    assert.match(underFile.stderr, /--out .*plain\.txt\/x\.png: .*plain\.txt is a file/);
    for (const r of [isFolder, underFile]) {
      assert.doesNotMatch(r.stderr, STACK, cmd[0]);
      assert.doesNotMatch(r.stderr, /samples, .*done/, `${cmd[0]}: nothing may be sampled`);
    }
  }
});

Deno.test("--out in a folder that refuses new files exits 1 before sampling, without a stack", async () => {
  const ro = await unwritableFolder();
  try {
    for (const cmd of commands) {
      const track = cmd[0] === "sample" ? ["--track-logp"] : [];
      const r = await runMain([...cmd, ...base, ...track, "--out", join(ro.path, "x.png")]);
      assert.equal(r.code, 1, `${cmd[0]}: ${r.stderr}`);
      assert.match(r.stderr, /^error: --out .*x\.png: cannot write in /m);
      assert.doesNotMatch(r.stderr, STACK, cmd[0]);
      assert.doesNotMatch(r.stderr, /samples, .*done/, `${cmd[0]}: nothing may be sampled`);
    }
  } finally {
    await ro.release();
  }
});

Deno.test("a writable --out in a folder still to be made: the check leaves nothing behind", async () => {
  const out = join(dir, "new", "deeper", "s.json");
  const r = await runMain(["sample", "--model", MIX, "--n", "2", "--quiet", "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  const names: string[] = [];
  for await (const e of Deno.readDir(join(dir, "new", "deeper"))) names.push(e.name);
  assert.deepEqual(names, ["s.json"], "no probe file may remain");
});

Deno.test("sample --help marks --out as required", async () => {
  const r = await runMain(["sample", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: likelihood sample .*--out FILE/m);
  assert.match(r.stdout, /--out <file>\s+.*\(required\)/);
});
