/** A leading `~/` in every data and model path spec is expanded with HOME. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { expandHome } from "../../io/home_path.ts";
import { UsageError } from "../../io/errors.ts";
import { loadImageSpec } from "../../data/image_set.ts";
import { encodePng } from "../../io/png.ts";
import { MAIN, ROOT } from "../_helpers/cli.ts";

Deno.test("expandHome: ~ and ~/… only, with or without a trailing slash on HOME", () => {
  assert.equal(expandHome("~/data/c10", "/home/ada"), "/home/ada/data/c10");
  assert.equal(expandHome("~/x", "/home/ada/"), "/home/ada/x");
  assert.equal(expandHome("~", "/home/ada"), "/home/ada");
  for (const p of ["data/~/x", "/abs/~/x", "~ada/x", "x~"]) assert.equal(expandHome(p, "/h"), p);
  assert.throws(() => expandHome("~/x", ""), UsageError);
  assert.equal(expandHome("rel/x", undefined), "rel/x", "HOME is needed only for ~");
});

const DENO_DIR = Deno.env.get("DENO_DIR") ??
  join(Deno.env.get("XDG_CACHE_HOME") ?? join(Deno.env.get("HOME") ?? "/root", ".cache"), "deno");
const home = await Deno.makeTempDir({ prefix: "home_" });
await Deno.writeTextFile(
  join(home, "m.json"),
  JSON.stringify({ weights: [1], means: [[0, 0]], stds: [1] }),
);
await Deno.writeTextFile(join(home, "x.csv"), "0.5,-0.25\n1.5,2\n");

Deno.test("images:~/DIR reads the folder under HOME", async () => {
  await Deno.mkdir(join(home, "pngs"));
  for (let i = 0; i < 10; i++) {
    await Deno.writeFile(
      join(home, "pngs", `${i}.png`),
      encodePng(new Uint8Array(4).fill(i), 2, 2, 1),
    );
  }
  const saved = Deno.env.get("HOME");
  Deno.env.set("HOME", home);
  try {
    const set = await loadImageSpec("images:~/pngs", "train");
    assert.equal(set.n, 9);
    assert.deepEqual(set.shape, [1, 2, 2]);
  } finally {
    if (saved === undefined) Deno.env.delete("HOME");
    else Deno.env.set("HOME", saved);
  }
});

Deno.test("eval-nll --model gmm:~/… --data points:~/…: both resolved under HOME", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      ...MAIN,
      "eval-nll",
      "--model",
      "gmm:~/m.json",
      "--data",
      "points:~/x.csv",
      "--backend",
      "reference",
      "--divergence",
      "exact",
      "--quiet",
      "--json",
    ],
    cwd: ROOT,
    // Deno's own cache lives under HOME unless DENO_DIR says otherwise: keep using this one
    env: { HOME: home, DENO_DIR: DENO_DIR },
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(doc.n, 2);
});
