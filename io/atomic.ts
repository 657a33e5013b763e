/**
 * Atomic writes: a temporary file beside the target, flushed to disk, then renamed over it. The
 * file operations go through a `FileWriter`, so tests can make them fail as a full disk would.
 */

import { dirname } from "node:path";
import { RuntimeFailure } from "./errors.ts";

/** The writes a run's outputs go through; the default is the disk, tests substitute failures. */
export interface FileWriter {
  /** Creates or truncates `path`, writes `bytes` and flushes them to the disk. */
  writeSynced(path: string, bytes: Uint8Array): Promise<void>;
  /** Appends `text` to `path`, creating it. */
  append(path: string, text: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}

export const diskWriter: FileWriter = {
  async writeSynced(path, bytes) {
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    try {
      let off = 0;
      while (off < bytes.length) off += await file.write(bytes.subarray(off));
      await file.sync();
    } finally {
      file.close();
    }
  },
  append: (path, text) => Deno.writeTextFile(path, text, { append: true }),
  rename: (from, to) => Deno.rename(from, to),
};

/** The operating system's reason, without the path Deno appends to some messages. */
export function reason(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(
    /: [a-z_]+ '[^']*'( -> '[^']*')?$/,
    "",
  );
}

/** Removes `path` if it is there; a file that cannot be removed is left for a later run. */
export async function removeQuietly(path: string): Promise<void> {
  await Deno.remove(path).catch(() => {});
}

/**
 * Writes `data` to `path` atomically. On failure (a full disk, a read-only folder) the temporary
 * file is removed and a one-line RuntimeFailure names `path`; an existing file is kept.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  writer: FileWriter = diskWriter,
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = `${path}.tmp-${Deno.pid}-${Date.now()}`;
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    await writer.writeSynced(tmp, bytes);
    await writer.rename(tmp, path);
  } catch (e) {
    await removeQuietly(tmp);
    throw new RuntimeFailure(`cannot write ${path}: ${reason(e)}`);
  }
}

/** Flushes a folder's entries (the renames just made in it) to the disk, where the OS allows. */
export async function syncFolder(dir: string): Promise<void> {
  let folder: Deno.FsFile | null = null;
  try {
    folder = await Deno.open(dir, { read: true });
    await folder.sync();
  } catch {
    // not every platform opens folders (Windows); the renames are still atomic there
  } finally {
    folder?.close();
  }
}
