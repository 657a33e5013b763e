/** `eval-nll merge PART.json…`: combines shard results into the unsharded figures. */

import { InputError } from "../io/errors.ts";
import { mergeParts, type PartialResult } from "./summary.ts";
import { printSummary } from "./report.ts";

export async function runMerge(paths: string[], o: { json: boolean }): Promise<void> {
  const parts: { path: string; part: PartialResult }[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      throw new InputError(
        `${path}: cannot read the partial result (${e instanceof Error ? e.message : e})`,
      );
    }
    try {
      parts.push({ path, part: JSON.parse(text) as PartialResult });
    } catch (e) {
      throw new InputError(`${path}: malformed JSON (${e instanceof Error ? e.message : e})`);
    }
  }
  const doc = mergeParts(parts);
  printSummary({ ...doc, merged_parts: paths.length }, o.json);
}
