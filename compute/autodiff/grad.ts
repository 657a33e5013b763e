/**
 * Reverse-mode differentiation over the recorded tape. The backward pass runs the VJP rules
 * (Tensor ops), recording them too when a surrounding differentiation needs the graph, so
 * `grad` composes with itself to any order.
 */

import { add } from "../ops/basic.ts";
import { ones, zeros } from "../constants.ts";
import { reshape } from "../primitives.ts";
import { fmt, sameShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { withRecording } from "./mode.ts";
import { type VjpRule, vjpRules } from "./vjp_rules.ts";
import type { Prim } from "../primitives.ts";

/** How many functional differentiations (`vjp`, `valueAndGrad`, …) are tracing right now. */
let tracingDepth = 0;

/**
 * Gradients of Σ ⟨outputs[i], seeds[i]⟩ with respect to each of `inputs` (zeros where an input
 * does not influence the outputs). Seeds default to ones. `createGraph` records the backward
 * pass so the results can be differentiated again.
 */
export function gradients(
  outputs: readonly Tensor[],
  inputs: readonly Tensor[],
  seeds?: readonly Tensor[],
  createGraph = false,
): Tensor[] {
  const isInput = new Set(inputs);
  const relevant = new Map<Tensor, boolean>();
  const order: Tensor[] = [];
  // Iterative post-order DFS: marks tensors that depend on an input and orders them.
  for (const root of outputs) {
    const stack: [Tensor, boolean][] = [[root, false]];
    while (stack.length > 0) {
      const [t, expanded] = stack.pop()!;
      if (expanded) {
        const r = isInput.has(t) || (t.node?.inputs.some((u) => relevant.get(u)) ?? false);
        relevant.set(t, r);
        if (r) order.push(t);
        continue;
      }
      if (relevant.has(t)) continue;
      stack.push([t, true]);
      if (!isInput.has(t) && t.node) {
        for (const u of t.node.inputs) if (!relevant.has(u)) stack.push([u, false]);
      }
    }
  }

  return withRecording(createGraph, () => {
    const grads = new Map<Tensor, Tensor>();
    const accumulate = (t: Tensor, g: Tensor) => {
      if (!sameShape(t.shape, g.shape)) {
        throw new Error(`gradient of shape ${fmt(g.shape)} for a tensor of shape ${fmt(t.shape)}`);
      }
      const prev = grads.get(t);
      grads.set(t, prev ? add(prev, g) : g);
    };
    outputs.forEach((o, i) => {
      if (relevant.get(o)) accumulate(o, seeds?.[i] ?? ones(o.backend, o.shape, o.dtype));
    });
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (!g || isInput.has(t) || !t.node) continue;
      const { prim, inputs: parents, params } = t.node;
      const needs = parents.map((u) => relevant.get(u) === true);
      const rule = vjpRules[prim] as VjpRule<Prim>;
      const parentGrads = rule(g, t, parents, params, needs);
      parents.forEach((u, j) => {
        const pg = parentGrads[j];
        if (needs[j] && pg) accumulate(u, pg);
      });
    }
    return inputs.map((x) => grads.get(x) ?? zeros(x.backend, x.shape, x.dtype));
  });
}

/** Runs `f` with recording on, one tracing level deeper (so inner backward passes keep their graph). */
function traced<T>(f: () => T): T {
  tracingDepth++;
  try {
    return withRecording(true, f);
  } finally {
    tracingDepth--;
  }
}

/** An alias of `x` whose gradient will be asked for; linked to `x` so outer levels see through it. */
export function watch(x: Tensor): Tensor {
  const alias = withRecording(true, () => reshape(x, x.shape));
  alias.watched = true;
  return alias;
}

/** `x` with its tape cut: gradients do not flow through the result. */
export function stopGradient(x: Tensor): Tensor {
  const alias = withRecording(false, () => reshape(x, x.shape));
  return alias;
}

/** Runs `f` while tracing and returns its value plus the pullback g ↦ gᵀ ∂f/∂x. */
export function vjp(
  f: (x: Tensor) => Tensor,
  x: Tensor,
): { value: Tensor; pullback: (g: Tensor) => Tensor } {
  const xw = watch(x);
  const value = traced(() => f(xw));
  const createGraph = tracingDepth > 0;
  return { value, pullback: (g) => gradients([value], [xw], [g], createGraph)[0] };
}

/** Gradient of a scalar-valued `f` (non-scalar outputs are summed). */
export function grad(f: (x: Tensor) => Tensor): (x: Tensor) => Tensor {
  return (x) => valueAndGrad(f)(x).grad;
}

export type Tree = Tensor | readonly Tree[] | { readonly [k: string]: Tree };

/** Value and gradient of a scalar `f` with respect to every tensor of a parameter tree. */
export function valueAndGrad<T extends Tree>(
  f: (params: T) => Tensor,
): (params: T) => { value: Tensor; grad: T } {
  return (params) => {
    const leaves: Tensor[] = [];
    const watched = mapTree(params, (t) => {
      const w = watch(t);
      leaves.push(w);
      return w;
    });
    const value = traced(() => f(watched));
    const nested = tracingDepth > 0;
    const grads = gradients([value], leaves, undefined, nested);
    let i = 0;
    // At top level nobody differentiates the value again: cut its tape so that keeping the
    // loss (for logging) does not keep the whole forward graph alive.
    return { value: nested ? value : stopGradient(value), grad: mapTree(params, () => grads[i++]) };
  };
}

/** Applies `fn` to every tensor of a tree, keeping its structure. */
export function mapTree<T extends Tree>(
  tree: T,
  fn: (t: Tensor, path: string) => Tensor,
  path = "",
): T {
  if (isTensor(tree)) return fn(tree, path) as T;
  if (Array.isArray(tree)) {
    return tree.map((v, i) => mapTree(v, fn, `${path}.${i}`)) as unknown as T;
  }
  const out: Record<string, Tree> = {};
  for (const [k, v] of Object.entries(tree)) {
    out[k] = mapTree(v as Tree, fn, path ? `${path}.${k}` : k);
  }
  return out as T;
}

/** The tensors of a tree in a fixed (insertion) order. */
export function treeLeaves(tree: Tree): Tensor[] {
  const out: Tensor[] = [];
  mapTree(tree, (t) => (out.push(t), t));
  return out;
}

function isTensor(x: unknown): x is Tensor {
  return typeof x === "object" && x !== null && "storage" in x && "shape" in x && "dtype" in x;
}
