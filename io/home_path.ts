/**
 * `~/…` in a path given inside a spec (`cifar10:~/data`, `points:~/x.npy`, `--ckpt=~/run/…`):
 * the shell expands a leading `~` only at the start of a word, so the program does it for the
 * paths it reads.
 */

import { UsageError } from "./errors.ts";

/** `~` or `~/rest` → `$HOME` or `$HOME/rest`; any other path unchanged (`~user/` is not expanded). */
export function expandHome(path: string, home = Deno.env.get("HOME")): string {
  if (path !== "~" && !path.startsWith("~/")) return path;
  if (!home) throw new UsageError(`${path}: cannot expand ~ because HOME is not set`);
  return home.replace(/\/+$/, "") + path.slice(1);
}
