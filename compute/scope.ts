/**
 * Memory discipline: GPU buffers are not garbage-collected, so every tensor created inside
 * `tidy` is freed when the scope ends unless it is returned, reachable from a returned tensor's
 * tape (so a result that still carries a graph keeps what its gradients need), or persistent.
 */

import type { Tensor } from "./tensor.ts";

class Scope {
  readonly tensors = new Set<Tensor>();
}

const stack: Scope[] = [];

export function track(t: Tensor): void {
  if (stack.length > 0) stack[stack.length - 1].tensors.add(t);
}

/** Marks a tensor as long-lived: no scope frees it; call `dispose()` yourself. */
export function keep<T extends Tensor>(t: T): T {
  t.persistent = true;
  for (const s of stack) s.tensors.delete(t);
  return t;
}

/** Runs `fn` and frees every tensor it created that its result does not need. */
export function tidy<T>(fn: () => T): T {
  const scope = new Scope();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    close(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    close(scope, undefined);
    throw new Error("tidy(): the function returned a Promise; use tidyAsync for async work");
  }
  close(scope, result);
  return result;
}

/** `tidy` for async functions; scopes nest by call order, so do not interleave two of them. */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = new Scope();
  stack.push(scope);
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    close(scope, undefined);
    throw e;
  }
  close(scope, result);
  return result;
}

function close(scope: Scope, result: unknown): void {
  if (stack[stack.length - 1] !== scope) throw new Error("tidy scopes were closed out of order");
  stack.pop();
  const live = new Set<Tensor>();
  for (const t of tensorsIn(result)) markReachable(t, live);
  const parent = stack.length > 0 ? stack[stack.length - 1] : null;
  for (const t of scope.tensors) {
    if (live.has(t) || t.persistent) parent?.tensors.add(t);
    else t.dispose();
  }
}

function markReachable(t: Tensor, live: Set<Tensor>): void {
  const todo = [t];
  while (todo.length > 0) {
    const u = todo.pop()!;
    if (live.has(u)) continue;
    live.add(u);
    if (u.node) todo.push(...u.node.inputs);
  }
}

/** Finds the tensors inside arrays and plain objects (parameter trees, result records). */
function* tensorsIn(x: unknown): Generator<Tensor> {
  if (x === null || typeof x !== "object") return;
  if ("storage" in x && "shape" in x && "dtype" in x) {
    yield x as Tensor;
    return;
  }
  if (x instanceof Map) {
    for (const v of x.values()) yield* tensorsIn(v);
    return;
  }
  for (const v of Array.isArray(x) ? x : Object.values(x)) yield* tensorsIn(v);
}
