/**
 * A small structural reader for the Bicep files of this repo (no Bicep CLI can run here).
 *
 * It understands only what these templates use: `param`, `var`, `resource`, `module` declarations,
 * single-quoted strings (with `\'` escapes and `${}` interpolation), `//` and `/* *\/` comments, and
 * balanced `{}`, `[]`, `()`. Everything is located by scanning with strings and comments masked, so
 * a brace inside a string or a comment never counts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The text with every comment and the inside of every string replaced by spaces (offsets kept). */
export function mask(text: string): string {
  const out = text.split('');
  let i = 0;
  while (i < text.length) {
    if (text.startsWith("'''", i)) {
      const end = text.indexOf("'''", i + 3);
      const stop = end === -1 ? text.length : end + 3;
      for (let j = i + 3; j < Math.min(stop, text.length) - (end === -1 ? 0 : 3); j++) if (out[j] !== '\n') out[j] = ' ';
      i = stop;
    } else if (text[i] === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== "'" && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      for (let k = i + 1; k < Math.min(j, text.length); k++) out[k] = ' ';
      i = j + 1;
    } else if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') out[i++] = ' ';
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      for (let j = i; j < stop; j++) if (out[j] !== '\n') out[j] = ' ';
      i = stop;
    } else i++;
  }
  return out.join('');
}

/** Problems with brackets and string literals, each with its line number; empty when the file is well formed. */
export function structuralProblems(text: string): string[] {
  const problems: string[] = [];
  const lineOf = (offset: number) => text.slice(0, offset).split('\n').length;
  // Unterminated single-line strings: a quote that reaches the end of its line.
  let i = 0;
  while (i < text.length) {
    if (text.startsWith("'''", i)) {
      const end = text.indexOf("'''", i + 3);
      if (end === -1) {
        problems.push(`line ${lineOf(i)}: multi-line string is never closed`);
        break;
      }
      i = end + 3;
    } else if (text[i] === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== "'" && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length || text[j] === '\n') problems.push(`line ${lineOf(i)}: string is not closed on its line`);
      i = j + 1;
    } else if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end === -1) {
        problems.push(`line ${lineOf(i)}: block comment is never closed`);
        break;
      }
      i = end + 2;
    } else i++;
  }
  const masked = mask(text);
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: { char: string; offset: number }[] = [];
  for (let k = 0; k < masked.length; k++) {
    const c = masked[k] as string;
    if (c === '(' || c === '[' || c === '{') stack.push({ char: c, offset: k });
    else if (c === ')' || c === ']' || c === '}') {
      const open = stack.pop();
      if (!open || open.char !== pairs[c]) {
        problems.push(`line ${lineOf(k)}: '${c}' closes ${open ? `'${open.char}' opened on line ${lineOf(open.offset)}` : 'nothing'}`);
        return problems;
      }
    }
  }
  for (const open of stack) problems.push(`line ${lineOf(open.offset)}: '${open.char}' is never closed`);
  return problems;
}

/** Offset just after the bracket that closes the one at `open` (masked text). */
export function closingOffset(masked: string, open: number): number {
  const closer: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
  const opener = masked[open] as string;
  let depth = 0;
  for (let k = open; k < masked.length; k++) {
    if (masked[k] === opener) depth++;
    else if (masked[k] === closer[opener]) {
      depth--;
      if (depth === 0) return k + 1;
    }
  }
  throw new Error(`Unbalanced '${opener}' at offset ${open}; run the structure check first.`);
}

export interface ParamDeclaration {
  name: string;
  hasDefault: boolean;
}

export function params(text: string): ParamDeclaration[] {
  const masked = mask(text);
  return [...masked.matchAll(/^param\s+(\w+)\s+[^\n=]+?(=.*)?$/gm)].map((m) => ({ name: m[1] as string, hasDefault: m[2] !== undefined }));
}

export interface Declaration {
  kind: 'module' | 'resource';
  symbol: string;
  /** Module path or `<type>@<api-version>`. */
  target: string;
  /** The condition of `= if (...)`, without the parentheses, or undefined. */
  condition: string | undefined;
  /** The declaration's body `{ ... }` (original text). */
  body: string;
  /** Offsets of the whole declaration in the file. */
  start: number;
  end: number;
}

export function declarations(text: string): Declaration[] {
  const masked = mask(text);
  const found: Declaration[] = [];
  for (const m of masked.matchAll(/^(module|resource)\s+(\w+)\s+'/gm)) {
    const quote = (m.index ?? 0) + m[0].length - 1;
    const close = text.indexOf("'", quote + 1);
    const target = text.slice(quote + 1, close);
    let k = masked.indexOf('=', close);
    const afterEquals = masked.slice(k + 1).trimStart();
    k = masked.length - afterEquals.length;
    let condition: string | undefined;
    if (afterEquals.startsWith('if')) {
      const open = masked.indexOf('(', k);
      const end = closingOffset(masked, open);
      condition = text.slice(open + 1, end - 1).trim();
      k = end;
    }
    const open = masked.slice(k).search(/[[{]/) + k;
    const end = closingOffset(masked, open);
    found.push({ kind: m[1] as 'module' | 'resource', symbol: m[2] as string, target, condition, body: text.slice(open, end), start: m.index ?? 0, end });
  }
  return found;
}

/**
 * Keys of the top level of the object literal `{ ... }` that follows `key:` in `body`
 * (e.g. the `params` of a module), or undefined when there is no such key.
 */
export function objectKeys(body: string, key: string): string[] | undefined {
  const value = propertyValue(body, key);
  if (value === undefined || !value.startsWith('{')) return undefined;
  const masked = mask(value);
  const keys: string[] = [];
  let depth = 0;
  let entryStart = true;
  for (let k = 0; k < masked.length; k++) {
    const c = masked[k] as string;
    if (c === '{' || c === '[' || c === '(') {
      depth++;
      if (depth === 1) entryStart = true;
      continue;
    }
    if (c === '}' || c === ']' || c === ')') {
      depth--;
      continue;
    }
    if (depth === 1 && (c === ',' || c === '\n')) {
      entryStart = true;
      continue;
    }
    if (depth === 1 && entryStart && /[A-Za-z_]/.test(c)) {
      const m = /^(\w+)\s*:/.exec(masked.slice(k));
      if (m) keys.push(m[1] as string);
      entryStart = false;
    } else if (depth === 1 && entryStart && !/\s/.test(c)) entryStart = false;
  }
  return keys;
}

/**
 * The raw text of the value of the first `key:` at any depth of `body`: up to the comma, newline or
 * closing brace at its own depth, so calls (`concat(...)`), brackets and multi-line ternaries
 * (`cond\n ? a\n : b`) come back whole.
 */
export function propertyValue(body: string, key: string): string | undefined {
  const masked = mask(body);
  const m = new RegExp(`(^|[\\s{,])${key}\\s*:`).exec(masked);
  if (!m) return undefined;
  let k = (m.index ?? 0) + m[0].length;
  while (/\s/.test(masked[k] ?? '')) k++;
  const start = k;
  while (k < masked.length) {
    const c = masked[k] as string;
    if (c === '{' || c === '[' || c === '(') {
      k = closingOffset(masked, k);
      continue;
    }
    if (c === ',' || c === '}' || c === ']' || c === ')') break;
    if (c === '\n') {
      const next = /^\s*([?:])/.exec(masked.slice(k));
      if (!next) break;
    }
    k++;
  }
  return body.slice(start, k).trim();
}

/** Simple `var name = 'literal'` values of a file. */
export function stringVars(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^var\s+(\w+)\s*=\s*'([^'$]*)'\s*$/gm)].map((m) => [m[1] as string, m[2] as string]));
}

/** The raw value of `var <name> = ...` (a bracketed value whole), or undefined. */
export function varValue(text: string, name: string): string | undefined {
  const m = new RegExp(`^var\\s+${name}\\s*=\\s*`, 'm').exec(mask(text));
  if (!m) return undefined;
  return propertyValue(`x: ${text.slice((m.index ?? 0) + m[0].length)}`, 'x');
}

/** Every `.bicep` file under `dir`, recursively, as absolute paths. */
/** The environment variable names a module call in `main` gives its service, following `…Settings` vars. */
export function serviceEnvNames(main: string, serviceSymbol: string): Set<string> {
  const decl = declarations(main).find((d) => d.symbol === serviceSymbol);
  if (!decl) throw new Error(`main.bicep has no module ${serviceSymbol}`);
  const env = propertyValue(decl.body, 'env') ?? '';
  const names = new Set([...env.matchAll(/name:\s*'(\w+)'/g)].map((m) => m[1] as string));
  for (const ref of env.matchAll(/\b(\w+Settings)\b/g)) {
    const value = varValue(main, ref[1] as string);
    if (!value) throw new Error(`main.bicep: ${serviceSymbol} uses ${ref[1]}, which is not a var`);
    for (const m of value.matchAll(/name:\s*'(\w+)'/g)) names.add(m[1] as string);
  }
  // Generated secrets reach the app as variables too (container-app.bicep's secretEnv).
  for (const name of objectKeys(propertyValue(decl.body, 'params') ?? '', 'secretEnv') ?? []) names.add(name);
  return names;
}

export function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return bicepFiles(path);
    return entry.name.endsWith('.bicep') ? [path] : [];
  });
}

export function read(path: string): string {
  return readFileSync(path, 'utf8');
}
