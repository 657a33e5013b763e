/** `eval-nll merge PART.json…`: combines shard results into the unsharded figures. */

import { InputError } from "../io/errors.ts";
import { summarize } from "./summary.ts";
import { firstDifference, type PartialResult, validatePart } from "./part.ts";
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
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new InputError(`${path}: malformed JSON (${e instanceof Error ? e.message : e})`);
    }
    parts.push({ path, part: validatePart(path, doc) });
  }
  const doc = mergeParts(parts);
  printSummary({ ...doc, merged_parts: paths.length }, o.json);
}

/**
 * Checks that parts share settings and how they were computed, and cover 0…n−1 exactly once,
 * then joins them in order.
 */
export function mergeParts(parts: { path: string; part: PartialResult }[]) {
  if (parts.length === 0) throw new InputError("eval-nll merge: no partial results given");
  const ref = parts[0];
  // a shard left without examples (n below the shard count) ran no kernel
  const refKernels = parts.find((p) => p.part.examples.length > 0) ?? ref;
  for (const { path, part } of parts) {
    const { kernels, ...compute } = part.compute;
    const d = firstDifference(ref.part.settings, part.settings, "settings") ??
      firstDifference(
        { ...ref.part.compute, kernels: {} },
        { ...compute, kernels: {} },
        "compute",
      ) ??
      (part.examples.length > 0
        ? firstDifference(refKernels.part.compute.kernels, kernels, "compute.kernels")
        : null);
    if (d) {
      const other = d.field.startsWith("compute.kernels") ? refKernels.path : ref.path;
      throw new InputError(
        `${path} and ${other} differ in ${d.field} (${JSON.stringify(d.b)} vs ${
          JSON.stringify(d.a)
        }): parts computed with different settings, backends or kernels are not one evaluation`,
      );
    }
  }
  const examples = parts.flatMap((p) => p.part.examples).sort((a, b) => a.index - b.index);
  const n = ref.part.settings.n_total;
  const missing = [];
  for (let i = 0, j = 0; i < n; i++) {
    if (examples[j]?.index === i) j++;
    else missing.push(i);
    if (examples[j]?.index === i) {
      throw new InputError(`example ${i} appears in more than one part`);
    }
  }
  if (missing.length > 0) {
    throw new InputError(
      `the parts cover ${examples.length} of ${n} examples; missing ${
        missing.slice(0, 5).join(", ")
      }${missing.length > 5 ? ", …" : ""}`,
    );
  }
  const withBound = parts.filter((p) => p.part.bound);
  const bound = withBound.length === parts.length
    ? {
      ...ref.part.bound!,
      examples: parts.flatMap((p) => p.part.bound!.examples).sort((a, b) => a.index - b.index),
    }
    : undefined;
  const doc = summarize(ref.part.settings, examples, bound);
  doc.backend = ref.part.compute.backend;
  doc.compute = refKernels.part.compute;
  return doc;
}
