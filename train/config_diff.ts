/**
 * The settings that differ between a run's stored configuration and a new one, for the message
 * of a refused `--resume`: "--lr 0.001 → 0.01", named by flag where one sets the field.
 */

import { CONFIG_FLAGS } from "./config.ts";

/** Each differing leaf as "flag-or-path old → new", in path order; `(none)` for a missing one. */
export function configChanges(before: unknown, after: unknown): string[] {
  const a = leaves(before), b = leaves(after);
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  return paths.filter((p) => a.get(p) !== b.get(p)).map((p) =>
    `${CONFIG_FLAGS[p] ?? p} ${a.get(p) ?? "(none)"} → ${b.get(p) ?? "(none)"}`
  );
}

/** path → JSON text of every leaf; arrays are leaves (`--mults 1,2,2` is one setting). */
function leaves(value: unknown, path = "", out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) leaves(v, path ? `${path}.${k}` : k, out);
  } else out.set(path, JSON.stringify(value));
  return out;
}
