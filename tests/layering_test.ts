/**
 * The import layering of README's architecture section, checked on every source file: a folder
 * imports only folders of a lower tier, only `cli/` and `main.ts` import commander, and
 * `io/errors.ts` (the error vocabulary, which imports nothing) may be imported from anywhere.
 */

import assert from "node:assert/strict";

/** Lowest first; a folder may import the folders of every tier below its own. */
const TIERS: readonly (readonly string[])[] = [
  ["compute"],
  ["io"],
  ["sde"],
  ["nn", "data"],
  ["eval", "sample", "train"],
  ["cli"],
  ["."],
];

const ROOT = new URL("../", import.meta.url);
const tierOf = new Map(TIERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

interface Import {
  file: string;
  target: string;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
    const path = dir === "." ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory && dir !== ".") files.push(...await sourceFiles(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

/** Every `import … from "…"` and `export … from "…"` of a file, resolved against its folder. */
function importsOf(file: string, source: string): Import[] {
  const out: Import[] = [];
  for (const m of source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gm)) {
    const spec = m[1];
    if (!spec.startsWith(".")) {
      out.push({ file, target: spec });
      continue;
    }
    const parts = file.split("/").slice(0, -1);
    for (const p of spec.split("/")) {
      if (p === "..") parts.pop();
      else if (p !== ".") parts.push(p);
    }
    out.push({ file, target: parts.join("/") });
  }
  return out;
}

const folderOf = (path: string) => path.includes("/") ? path.split("/")[0] : ".";

async function allImports(): Promise<Import[]> {
  const files = [
    ...await sourceFiles("."),
    ...(await Promise.all([...tierOf.keys()].filter((f) => f !== ".").map(sourceFiles))).flat(),
  ];
  const imports: Import[] = [];
  for (const file of files) {
    imports.push(...importsOf(file, await Deno.readTextFile(new URL(file, ROOT))));
  }
  return imports;
}

Deno.test("every source folder belongs to a tier of the layering", async () => {
  const folders: string[] = [];
  for await (const entry of Deno.readDir(ROOT)) {
    if (!entry.isDirectory || entry.name.startsWith(".")) continue;
    if (["tests", "bench", "fixtures", "docs"].includes(entry.name)) continue;
    folders.push(entry.name);
  }
  assert.deepEqual(folders.filter((f) => !tierOf.has(f)).sort(), []);
});

Deno.test("no folder imports a folder of its own or a higher tier", async () => {
  const wrong: string[] = [];
  for (const { file, target } of await allImports()) {
    if (!target.endsWith(".ts") || target === "io/errors.ts") continue;
    const from = folderOf(file), to = folderOf(target);
    if (from === to) continue;
    if (!(tierOf.get(to)! < tierOf.get(from)!)) wrong.push(`${file} imports ${target}`);
  }
  assert.deepEqual(wrong, []);
});

Deno.test("only cli/ and main.ts import commander", async () => {
  const wrong = (await allImports())
    .filter(({ file, target }) =>
      target.includes("commander") && folderOf(file) !== "cli" && file !== "main.ts"
    )
    .map(({ file, target }) => `${file} imports ${target}`);
  assert.deepEqual(wrong, []);
});

Deno.test("the layering check sees upward imports", () => {
  // guards the regular expression: a multi-line import and a re-export are both found
  const found = importsOf(
    "sample/x.ts",
    'import {\n  a,\n  b,\n} from "../cli/options.ts";\nexport { c } from "./y.ts";\n',
  );
  assert.deepEqual(found.map((i) => i.target), ["cli/options.ts", "sample/y.ts"]);
});
