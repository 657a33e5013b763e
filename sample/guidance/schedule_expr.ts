/**
 * A small, safe expression language for a guidance schedule b_t (docs/density_guidance.md):
 * numbers, the variable t, + − * / ^ (right-associative, binding tighter than a unary minus,
 * so −t^2 = −(t²)), parentheses and the functions exp, log (natural), sqrt, sin, cos. The
 * text is parsed by recursive descent into a closure: nothing is ever handed to `eval`, so a
 * schedule can name no other variable and call no other function.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const b = parseScheduleExpr("-50*t*(1-t)", "--b-schedule");
 * assert.equal(b(0.5), -12.5);
 * ```
 */

import { UsageError } from "../../io/errors.ts";

/** A function of t compiled from the text. */
export type ScheduleFn = (t: number) => number;

const FUNCTIONS: Record<string, (v: number) => number> = {
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  sin: Math.sin,
  cos: Math.cos,
};

type Token =
  | { kind: "number"; value: number; at: number }
  | { kind: "name"; value: string; at: number }
  | { kind: "op"; value: string; at: number }
  | { kind: "end"; at: number };

const NUMBER = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/;
const NAME = /^[A-Za-z_][A-Za-z_0-9]*/;

function tokenize(text: string, fail: (msg: string, at: number) => never): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const rest = text.slice(i);
    const num = NUMBER.exec(rest);
    if (num) {
      tokens.push({ kind: "number", value: Number(num[0]), at: i });
      i += num[0].length;
      continue;
    }
    const name = NAME.exec(rest);
    if (name) {
      tokens.push({ kind: "name", value: name[0], at: i });
      i += name[0].length;
      continue;
    }
    if ("+-*/^()".includes(ch)) {
      tokens.push({ kind: "op", value: ch, at: i });
      i++;
      continue;
    }
    fail(`unexpected character '${ch}'`, i);
  }
  tokens.push({ kind: "end", at: text.length });
  return tokens;
}

/**
 * Compiles `text` into b(t). Every syntax error is a UsageError naming `flag`, the position
 * and what was expected there.
 */
export function parseScheduleExpr(text: string, flag: string): ScheduleFn {
  const fail = (msg: string, at: number): never => {
    throw new UsageError(
      `${flag}: ${msg} at position ${at + 1} of "${text}" (an expression in t of numbers, ` +
        `+ - * / ^, parentheses, exp, log, sqrt, sin, cos)`,
    );
  };
  const tokens = tokenize(text, fail);
  let pos = 0;
  const peek = () => tokens[pos];
  const isOp = (v: string) => {
    const tok = peek();
    return tok.kind === "op" && tok.value === v;
  };
  const found = (tok: Token) => (tok.kind === "end" ? "the end" : `'${tok.value}'`);

  // expr := term (('+' | '-') term)*
  const expr = (): ScheduleFn => {
    let left = term();
    while (isOp("+") || isOp("-")) {
      const op = (tokens[pos++] as { value: string }).value, a = left, b = term();
      left = op === "+" ? (t) => a(t) + b(t) : (t) => a(t) - b(t);
    }
    return left;
  };
  // term := unary (('*' | '/') unary)*
  const term = (): ScheduleFn => {
    let left = unary();
    while (isOp("*") || isOp("/")) {
      const op = (tokens[pos++] as { value: string }).value, a = left, b = unary();
      left = op === "*" ? (t) => a(t) * b(t) : (t) => a(t) / b(t);
    }
    return left;
  };
  // unary := ('-' | '+') unary | power
  const unary = (): ScheduleFn => {
    if (isOp("-")) {
      pos++;
      const a = unary();
      return (t) => -a(t);
    }
    if (isOp("+")) {
      pos++;
      return unary();
    }
    return power();
  };
  // power := primary ('^' unary)?   (right-associative: 2^3^2 = 2^9)
  const power = (): ScheduleFn => {
    const base = primary();
    if (!isOp("^")) return base;
    pos++;
    const exponent = unary();
    return (t) => base(t) ** exponent(t);
  };
  // primary := number | 't' | name '(' expr ')' | '(' expr ')'
  const primary = (): ScheduleFn => {
    const tok = peek();
    if (tok.kind === "number") {
      pos++;
      const v = tok.value;
      return () => v;
    }
    if (tok.kind === "name") {
      pos++;
      if (tok.value === "t") return (t) => t;
      const fn = FUNCTIONS[tok.value];
      if (!fn) fail(`unknown name '${tok.value}' (the variable is t)`, tok.at);
      if (!isOp("(")) fail(`expected '(' after ${tok.value}, found ${found(peek())}`, peek().at);
      pos++;
      const arg = expr();
      closeParen();
      return (t) => fn(arg(t));
    }
    if (isOp("(")) {
      pos++;
      const inner = expr();
      closeParen();
      return inner;
    }
    return fail(`expected a number, t, a function or '(', found ${found(tok)}`, tok.at);
  };
  const closeParen = () => {
    if (!isOp(")")) fail(`expected ')', found ${found(peek())}`, peek().at);
    pos++;
  };

  const fn = expr();
  if (peek().kind !== "end") fail(`expected an operator, found ${found(peek())}`, peek().at);
  return fn;
}
