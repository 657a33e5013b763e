/**
 * A training run saves its checkpoint (`ckpt.safetensors`) and optimiser state
 * (`state.safetensors`) as one unit, so `--resume` always finds a pair that belongs together:
 *
 * 1. both files are written in full to `ckpt.safetensors.tmp` and `state.safetensors.tmp` and
 *    flushed to the disk; both carry the same `save_id` in their metadata, a digest of the
 *    run's configuration hash, step, RNG state and data cursor (so bit-identical runs still
 *    write bit-identical files);
 * 2. the state is renamed into place, then the checkpoint, and the folder is flushed.
 *
 * A crash before the first rename leaves the previous pair. A crash between the renames leaves
 * the new state beside the old checkpoint, and the complete new checkpoint in
 * `ckpt.safetensors.tmp` (it was flushed before the state moved): `loadCheckpointPair` sees the
 * ids differ and finishes that rename. A failed write (a full disk) removes both temporary
 * files and keeps the previous pair. The fixed temporary names rely on the run directory's
 * lock: one writer at a time.
 */

import { join } from "node:path";
import type { Backend, DType, Tree } from "../compute/mod.ts";
import { diskWriter, type FileWriter, reason, removeQuietly, syncFolder } from "./atomic.ts";
import {
  type CheckpointMeta,
  configHash,
  encodeCheckpoint,
  encodeState,
  keepSnapshots,
  loadCheckpoint,
  type LoadedCheckpoint,
  type LoadedState,
  loadState,
  type TrainState,
} from "./checkpoint.ts";
import { InputError, RuntimeFailure } from "./errors.ts";

export const CKPT_FILE = "ckpt.safetensors";
export const STATE_FILE = "state.safetensors";
const TMP = ".tmp";

export interface PairToSave {
  params: Tree;
  ema?: Tree;
  metadata: CheckpointMeta;
  state: TrainState;
  /** numbered checkpoint snapshots to keep (`--keep`) */
  keep?: number;
}

/** Saves `dir/ckpt.safetensors` and `dir/state.safetensors` as one unit (see the top). */
export async function saveCheckpointPair(
  dir: string,
  p: PairToSave,
  writer: FileWriter = diskWriter,
): Promise<void> {
  const id = (await configHash({
    config: p.metadata.config_hash,
    step: p.metadata.step,
    rng: p.state.rng,
    cursor: p.state.dataCursor,
  })).slice(0, 32);
  const ckpt = join(dir, CKPT_FILE), state = join(dir, STATE_FILE);
  const step = p.metadata.step;
  const removeTemps = () => Promise.all([removeQuietly(ckpt + TMP), removeQuietly(state + TMP)]);
  const failed = (path: string, e: unknown) =>
    new RuntimeFailure(
      `cannot save the checkpoint of step ${step}: writing ${path} failed (${reason(e)}); ` +
        `the previous checkpoint in ${dir} is kept`,
    );
  // One file's bytes in memory at a time: at the CIFAR-10 preset's size each is 460 MB.
  for (
    const [path, encode] of [
      [state, () => encodeState(p.state, { save_id: id })],
      [ckpt, () => encodeCheckpoint(p, { save_id: id })],
    ] as const
  ) {
    let bytes: Uint8Array;
    try {
      bytes = await encode();
    } catch (e) {
      await removeTemps();
      throw e; // a device read failed: not the disk's fault
    }
    try {
      await writer.writeSynced(path + TMP, bytes);
    } catch (e) {
      await removeTemps();
      throw failed(path, e);
    }
  }
  try {
    await writer.rename(state + TMP, state);
  } catch (e) {
    await removeTemps();
    throw failed(state, e);
  }
  try {
    await writer.rename(ckpt + TMP, ckpt);
  } catch (e) {
    // the new state is in place: keep the temporary checkpoint, the next load completes it
    throw new RuntimeFailure(
      `cannot save the checkpoint of step ${step}: renaming ${ckpt + TMP} to ${ckpt} failed ` +
        `(${reason(e)}); --resume completes it`,
    );
  }
  await syncFolder(dir);
  await keepSnapshots(dir, step, p.keep ?? 0, writer);
}

/**
 * Loads the pair in `dir`, first completing a save that stopped between its two renames, and
 * checks that checkpoint and state come from the same save.
 */
export async function loadCheckpointPair(
  dir: string,
  backend: Backend,
  dtype: DType,
  notice: (line: string) => void,
): Promise<{ ckpt: LoadedCheckpoint; state: LoadedState }> {
  const ckptPath = join(dir, CKPT_FILE), statePath = join(dir, STATE_FILE);
  await completeInterruptedSave(dir, notice);
  const [c, s] = [await readHeader(ckptPath), await readHeader(statePath)];
  if (c === null && !(await exists(ckptPath))) {
    throw new InputError(
      `${ckptPath}: not found; --resume continues the run in --out, and ${dir} holds none`,
    );
  }
  const mismatch = (ckStep: unknown, stStep: unknown) =>
    new InputError(
      `--resume: ${ckptPath} (step ${ckStep}) and ${statePath} (step ${stStep}) come from ` +
        "different saves; restore a matching pair or start a new --out",
    );
  if (c?.metadata.save_id && s?.metadata.save_id && c.metadata.save_id !== s.metadata.save_id) {
    throw mismatch(c.metadata.step, s.metadata.step);
  }
  const ckpt = await loadCheckpoint(ckptPath, backend, dtype);
  const state = await loadState(statePath, backend, dtype);
  if (state.step !== ckpt.meta.step) throw mismatch(ckpt.meta.step, state.step);
  return { ckpt, state };
}

/** Renames a complete `ckpt.safetensors.tmp` of the state's save into place, if there is one. */
async function completeInterruptedSave(dir: string, notice: (line: string) => void) {
  const ckptPath = join(dir, CKPT_FILE);
  const state = await readHeader(join(dir, STATE_FILE));
  const id = state?.metadata.save_id;
  if (!id || (await readHeader(ckptPath))?.metadata.save_id === id) return;
  const pending = await readHeader(ckptPath + TMP);
  if (pending?.complete && pending.metadata.save_id === id) {
    await Deno.rename(ckptPath + TMP, ckptPath);
    await syncFolder(dir);
    notice(`completed the interrupted save of step ${pending.metadata.step} in ${dir}`);
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/**
 * The `__metadata__` of a safetensors file and whether the file holds all the data its header
 * promises, reading the header only (a checkpoint can be hundreds of MB); null when the file is
 * missing or not safetensors (the full loaders say what is wrong).
 */
export async function readHeader(
  path: string,
): Promise<{ metadata: Record<string, string>; complete: boolean } | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return null;
  }
  try {
    const size = (await file.stat()).size;
    const prefix = await readExactly(file, 8);
    if (prefix.length < 8) return null;
    const n = Number(new DataView(prefix.buffer).getBigUint64(0, true));
    if (8 + n > size) return null;
    const header = JSON.parse(new TextDecoder().decode(await readExactly(file, n)));
    let dataEnd = 0;
    for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
      const end = (entry as { data_offsets?: number[] }).data_offsets?.[1];
      if (name !== "__metadata__" && typeof end === "number") dataEnd = Math.max(dataEnd, end);
    }
    return { metadata: header.__metadata__ ?? {}, complete: size === 8 + n + dataEnd };
  } catch {
    return null;
  } finally {
    file.close();
  }
}

async function readExactly(file: Deno.FsFile, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const got = await file.read(out.subarray(at));
    if (got === null) break;
    at += got;
  }
  return out.subarray(0, at);
}
