/**
 * Flattens a JSON object into column-named fields.
 *
 * Rules (stable: they decide which body value lands in which silver column):
 * - A nested object's fields are joined with `_`: `{ a: { b: { c: 1 } } }` → `a_b_c = 1`. A `.` in a
 *   key is read as nesting too, so `{ "a.b": 1 }` and `{ a: { b: 1 } }` both give `a_b`. An empty
 *   key is a name like any other: `{ "": { b: 1 } }` gives `_b` (as `{ ".b": 1 }` does), never `b`.
 * - Every nested object (and array) is also kept under its own name, so a string column can take a
 *   whole sub-document as JSON text: `a = { b: { c: 1 } }`, `a_b = { c: 1 }`.
 * - Arrays follow `ArrayRule`: `json` keeps the array under its name (a string column gets its JSON
 *   text); `index` also flattens its elements as `name_0`, `name_1`, …; `first` puts its first
 *   element under the name (`null` when empty) and flattens it further.
 * - Two different paths that flatten to the same name make that name ambiguous; it keeps the first
 *   value and the caller decides what to do (silver quarantines an event only when a spec column is
 *   ambiguous).
 * - Names have at most `MAX_FLATTEN_DEPTH` parts; deeper nesting is not flattened further and stays reachable as JSON
 *   text under the deepest flattened name. This bounds recursion on hostile input.
 */

export type ArrayRule = 'json' | 'index' | 'first';

export const MAX_FLATTEN_DEPTH = 32;

export interface FlatFields {
  /** Flattened name → the JSON value there (scalars, or the object/array itself). */
  values: Map<string, unknown>;
  /** Names reached by more than one path → those paths (dotted, `[i]` for array elements), in body order. */
  ambiguous: Map<string, string[]> | undefined;
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The fields of a body by flattened name, as a `Map` of them or a flat object read in place gives them. */
export interface FieldValues {
  get(name: string): unknown;
}

/**
 * The fields of a flat object (see `flatFields`) read in place. Its own values are scalars only, so
 * an object or function found under a name (`constructor`, `__proto__`) is inherited: absent.
 */
class FlatObjectFields implements FieldValues {
  constructor(private readonly object: Record<string, unknown>) {}
  get(name: string): unknown {
    const value = this.object[name];
    return typeof value === 'function' || (typeof value === 'object' && value !== null) ? undefined : value;
  }
}

/**
 * The fields of a JSON object: read in place when it is flat already (no nested object or array,
 * no `.` in a key: the common body), so no map is built; otherwise `flattenJson`'s.
 */
export function bodyFields(root: Record<string, unknown>, arrays: ArrayRule): { values: FieldValues; ambiguous: Map<string, string[]> | undefined } {
  for (const key in root) {
    const value = root[key];
    if ((value !== null && typeof value === 'object') || key.includes('.')) return flattenJson(root, arrays);
  }
  return { values: new FlatObjectFields(root), ambiguous: undefined };
}

/**
 * The fields of an object that is flat already (no nested object or array, no `.` in a key: the
 * common body), by name; `undefined` when it needs flattening. Its names are its keys, each once.
 */
function flatObjectFields(root: Record<string, unknown>): Map<string, unknown> | undefined {
  const values = new Map<string, unknown>();
  for (const key of Object.keys(root)) {
    const value = root[key];
    if ((value !== null && typeof value === 'object') || key.includes('.')) return undefined;
    values.set(key, value);
  }
  return values;
}

/** Flattens the top-level object of a JSON body. */
export function flattenJson(root: Record<string, unknown>, arrays: ArrayRule): FlatFields {
  const flat = flatObjectFields(root);
  if (flat !== undefined) return { values: flat, ambiguous: undefined };
  const values = new Map<string, unknown>();
  const paths = new Map<string, string>();
  const out: FlatFields = { values, ambiguous: undefined };

  const put = (name: string, path: string, value: unknown): void => {
    const first = paths.get(name);
    if (first === undefined) {
      values.set(name, value);
      paths.set(name, path);
      return;
    }
    out.ambiguous ??= new Map();
    const seen = out.ambiguous.get(name);
    if (seen === undefined) out.ambiguous.set(name, [first, path]);
    else seen.push(path);
  };

  // `name` and `path` are undefined for the root only: an object under the key "" has the name "".
  const visitObject = (object: Record<string, unknown>, name: string | undefined, path: string | undefined, depth: number): void => {
    for (const key of Object.keys(object)) {
      const part = key.includes('.') ? key.replaceAll('.', '_') : key;
      visit(object[key], name === undefined ? part : `${name}_${part}`, path === undefined ? key : `${path}.${key}`, depth + 1);
    }
  };

  const visit = (value: unknown, name: string, path: string, depth: number): void => {
    if (Array.isArray(value)) {
      switch (arrays) {
        case 'json':
          put(name, path, value);
          return;
        case 'index':
          put(name, path, value);
          if (depth < MAX_FLATTEN_DEPTH) value.forEach((element, i) => visit(element, `${name}_${i}`, `${path}[${i}]`, depth + 1));
          return;
        case 'first':
          if (value.length === 0) put(name, path, null);
          else if (depth >= MAX_FLATTEN_DEPTH) put(name, path, value);
          else visit(value[0], name, `${path}[0]`, depth + 1);
          return;
      }
    }
    put(name, path, value);
    if (isJsonObject(value) && depth < MAX_FLATTEN_DEPTH) visitObject(value, name, path, depth);
  };

  visitObject(root, undefined, undefined, 0);
  return out;
}
