/**
 * What a deployment of `infra/main.bicep` would contain for given parameter values, worked out from
 * the text (no Bicep CLI runs here): which module calls and which resources inside them are
 * deployed, and the values their switch-like properties take.
 *
 * It evaluates only the expressions the templates use for their switches: literals, parameters and
 * vars, `!`, `&&`, `||`, comparisons, `cond ? a : b` and `empty()`. Anything else (a module's
 * output, an object literal, a function call) is an `Opaque` value carrying its text: never empty,
 * never equal to a literal, and not a boolean, so a condition that depends on one throws instead of
 * guessing.
 */
import { join } from 'node:path';
import { declarations as scan, mask as maskText, objectKeys, params, propertyValue, read, type Declaration } from './bicep-text';

// The same files are read for every deployment worked out: mask and scan each text once.
const masks = new Map<string, string>();
const scans = new Map<string, Declaration[]>();
const mask = (text: string) => masks.get(text) ?? (masks.set(text, maskText(text)), masks.get(text) as string);
const declarations = (text: string) => scans.get(text) ?? (scans.set(text, scan(text)), scans.get(text) as Declaration[]);

export class Opaque {
  constructor(readonly text: string) {}
}
export type Value = boolean | number | string | null | Opaque;

export interface Scope {
  file: string;
  text: string;
  /** Parameter values, already evaluated. */
  values: Record<string, Value>;
}

/** The raw text of `var name = ...` or `param name type = ...` (its default), or undefined. */
function declaredExpression(text: string, kind: 'var' | 'param', name: string): string | undefined {
  const pattern = kind === 'var' ? `^var\\s+${name}\\s*=\\s*` : `^param\\s+${name}\\s+\\w+\\s*=\\s*`;
  const m = new RegExp(pattern, 'm').exec(mask(text));
  if (!m) return undefined;
  return propertyValue(`x: ${text.slice((m.index ?? 0) + m[0].length)}`, 'x');
}

type Token = { kind: 'op' | 'num' | 'str' | 'id' | 'raw'; text: string };

function tokenize(expression: string): Token[] {
  const masked = mask(expression);
  const tokens: Token[] = [];
  let i = 0;
  while (i < expression.length) {
    const c = expression[i] as string;
    if (/\s/.test(c)) i++;
    else if (c === "'") {
      const end = masked.indexOf("'", i + 1);
      tokens.push({ kind: 'str', text: expression.slice(i + 1, end) });
      i = end + 1;
    } else if (c === '{' || c === '[') {
      // An object or array literal, or an index: kept whole as raw text.
      let depth = 0;
      let j = i;
      for (; j < masked.length; j++) {
        if (masked[j] === '{' || masked[j] === '[') depth++;
        else if (masked[j] === '}' || masked[j] === ']') depth--;
        if (depth === 0) break;
      }
      tokens.push({ kind: 'raw', text: expression.slice(i, j + 1) });
      i = j + 1;
    } else if (/\d/.test(c)) {
      const m = /^\d+/.exec(expression.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'num', text: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][\w]*(!?\.[A-Za-z_]\w*)*/.exec(expression.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'id', text: m[0] });
      i += m[0].length;
    } else {
      const op = ['&&', '||', '==', '!=', '>=', '<='].find((o) => expression.startsWith(o, i)) ?? c;
      tokens.push({ kind: 'op', text: op });
      i += op.length;
    }
  }
  return tokens;
}

const isEmpty = (v: Value) => v === '' || v === null;
function truth(v: Value, expression: string): boolean {
  if (typeof v !== 'boolean') throw new Error(`not a boolean: ${expression} (is ${v instanceof Opaque ? v.text : String(v)})`);
  return v;
}

/** The value of a Bicep expression in `scope`. */
export function evaluate(expression: string, scope: Scope): Value {
  const tokens = tokenize(expression);
  let k = 0;
  const peek = () => tokens[k];
  const take = (text?: string) => {
    const t = tokens[k++];
    if (!t || (text !== undefined && t.text !== text)) throw new Error(`${scope.file}: cannot read '${expression}' (expected ${text ?? 'more'})`);
    return t;
  };
  const ternary = (): Value => {
    const cond = or();
    if (peek()?.text !== '?') return cond;
    take('?');
    const a = ternary();
    take(':');
    const b = ternary();
    return truth(cond, expression) ? a : b;
  };
  const or = (): Value => {
    let v = and();
    while (peek()?.text === '||') {
      take();
      const w = and();
      v = truth(v, expression) || truth(w, expression);
    }
    return v;
  };
  const and = (): Value => {
    let v = compare();
    while (peek()?.text === '&&') {
      take();
      const w = compare();
      v = truth(v, expression) && truth(w, expression);
    }
    return v;
  };
  const compare = (): Value => {
    const v = unary();
    const op = peek()?.text;
    if (!['==', '!=', '>', '<', '>=', '<='].includes(op ?? '')) return v;
    take();
    const w = unary();
    if (op === '==' || op === '!=') return (v instanceof Opaque || w instanceof Opaque ? false : v === w) === (op === '==');
    if (typeof v !== 'number' || typeof w !== 'number') throw new Error(`${scope.file}: '${expression}' compares non-numbers`);
    return op === '>' ? v > w : op === '<' ? v < w : op === '>=' ? v >= w : v <= w;
  };
  const unary = (): Value => {
    if (peek()?.text === '!') {
      take();
      return !truth(unary(), expression);
    }
    return primary();
  };
  const primary = (): Value => {
    const t = take();
    if (t.kind === 'op' && t.text === '(') {
      const v = ternary();
      take(')');
      return v;
    }
    if (t.kind === 'num') return Number(t.text);
    if (t.kind === 'str') return t.text.includes('${') ? interpolate(t.text, scope) : t.text.replace(/\\'/g, "'");
    if (t.kind === 'raw') return new Opaque(peek()?.kind === 'raw' ? `${t.text}${take().text}` : t.text);
    if (t.kind === 'id') {
      if (t.text === 'true' || t.text === 'false') return t.text === 'true';
      if (t.text === 'null') return null;
      if (peek()?.text === '(') {
        // A call: empty() is evaluated, any other function is opaque.
        const open = k;
        let depth = 0;
        do {
          const x = take();
          if (x.text === '(') depth++;
          if (x.text === ')') depth--;
        } while (depth > 0);
        const args = tokens.slice(open + 1, k - 1);
        if (t.text === 'empty') return isEmpty(evaluate(args.map(show).join(' '), scope));
        return new Opaque(`${t.text}(${args.map(show).join(' ')})`);
      }
      if (peek()?.kind === 'raw') return new Opaque(`${t.text}${take().text}`);
      return lookup(t.text, scope);
    }
    throw new Error(`${scope.file}: cannot read '${expression}' at '${t.text}'`);
  };
  const v = ternary();
  if (k < tokens.length) throw new Error(`${scope.file}: cannot read '${expression}' past '${tokens[k]?.text}'`);
  return v;
}

const show = (t: Token) => (t.kind === 'str' ? `'${t.text}'` : t.text);

function interpolate(text: string, scope: Scope): Value {
  let opaque = false;
  const out = text.replace(/\$\{([^}]+)\}/g, (_, inner: string) => {
    const v = evaluate(inner, scope);
    if (v instanceof Opaque) opaque = true;
    return v instanceof Opaque ? v.text : String(v);
  });
  return opaque ? new Opaque(out) : out;
}

function lookup(name: string, scope: Scope): Value {
  if (name in scope.values) return scope.values[name] as Value;
  const varExpression = declaredExpression(scope.text, 'var', name);
  if (varExpression !== undefined) return evaluate(varExpression, scope);
  return new Opaque(name);
}

/** A module's (or main's) parameter values: those passed, evaluated by the caller, else the defaults. */
function bind(file: string, passed: Record<string, Value>): Scope {
  const text = read(file);
  const scope: Scope = { file, text, values: {} };
  for (const p of params(text)) {
    if (p.name in passed) scope.values[p.name] = passed[p.name] as Value;
    else if (p.hasDefault) scope.values[p.name] = evaluate(declaredExpression(text, 'param', p.name) as string, scope);
  }
  return scope;
}

/** The condition of a declaration, also of a loop's `for x in y: if (cond) {`. */
function conditionOf(decl: Declaration): string | undefined {
  if (decl.condition !== undefined) return decl.condition;
  const loop = /^\[\s*for\s[^:]+:\s*if\s*\(/.exec(mask(decl.body));
  if (!loop) return undefined;
  const open = loop[0].length - 1;
  let depth = 0;
  for (let j = open; j < decl.body.length; j++) {
    if (mask(decl.body)[j] === '(') depth++;
    if (mask(decl.body)[j] === ')') depth--;
    if (depth === 0) return decl.body.slice(open + 1, j).trim();
  }
  return undefined;
}

export interface DeployedModule {
  scope: Scope;
  /** Symbols of the resources of the module that are deployed. */
  resources: Set<string>;
}

export interface Deployment {
  main: Scope;
  /** Module calls of main.bicep that are deployed, by symbol. */
  modules: Map<string, DeployedModule>;
}

const infra = join(__dirname, '..');

/** The deployment of main.bicep with these parameter values (the others at their defaults). */
export function deploy(values: Record<string, Value> = {}): Deployment {
  const main = bind(join(infra, 'main.bicep'), { environmentName: 'test', location: 'westeurope', ...values });
  const modules = new Map<string, DeployedModule>();
  for (const decl of declarations(main.text).filter((d) => d.kind === 'module')) {
    const condition = conditionOf(decl);
    if (condition !== undefined && !truth(evaluate(condition, main), condition)) continue;
    const paramsText = propertyValue(decl.body, 'params') ?? '{}';
    const passed: Record<string, Value> = {};
    for (const key of objectKeys(`x: ${paramsText}`, 'x') ?? []) {
      // A loop's params may use the loop variable: those values stay opaque.
      passed[key] = evaluate(propertyValue(paramsText, key) as string, main);
    }
    const scope = bind(join(infra, decl.target), passed);
    const resources = new Set(
      declarations(scope.text)
        .filter((d) => d.kind === 'resource')
        .filter((d) => {
          const c = conditionOf(d);
          return c === undefined || truth(evaluate(c, scope), c);
        })
        .map((d) => d.symbol),
    );
    modules.set(decl.symbol, { scope, resources });
  }
  return { main, modules };
}

/** The value of `key:` (first at any depth) in resource `symbol` of a deployed module. */
export function property(deployment: Deployment, module: string, symbol: string, key: string): Value {
  const deployed = deployment.modules.get(module);
  if (!deployed) throw new Error(`module ${module} is not deployed`);
  const decl = declarations(deployed.scope.text).find((d) => d.symbol === symbol);
  if (!decl) throw new Error(`${deployed.scope.file} has no resource ${symbol}`);
  const expression = propertyValue(decl.body, key);
  if (expression === undefined) throw new Error(`${deployed.scope.file} ${symbol} has no ${key}`);
  return evaluate(expression, deployed.scope);
}
