/**
 * Rows from whole decoded columns: what `readTableFile` gives gold, built without hyparquet's
 * row objects (made field by field under computed names, then converted again in place).
 *
 * Invariants:
 * - Each row has exactly the given fields, in the given order, each an own enumerable property; a
 *   field without a column is null.
 * - A row is built by one object literal compiled per list of fields (cached), so all rows of a read
 *   share one shape: about a fifth of the cost of setting computed names one by one. The field names
 *   enter the compiled source only as JSON string literals, never as code; `__proto__`, which a
 *   literal would take for the prototype, is refused (the caller builds such rows otherwise).
 */

/** One row's values from the columns (absent fields are null in the compiled literal). */
type RowOfColumns = (columns: ReadonlyArray<ArrayLike<unknown> | null>, row: number) => Record<string, unknown>;

/** The compiled row shapes by fields and which of them have columns (a process reads few distinct lists). */
const shapes = new Map<string, RowOfColumns>();
const MAX_SHAPES = 256;

/** Whether `rowsOfColumns` can build rows with these field names. */
export function canBuildRows(fields: readonly string[]): boolean {
  return !fields.includes('__proto__');
}

/** `numRows` rows whose field `fields[c]` is `columns[c][row]`, or null where `columns[c]` is null. */
export function rowsOfColumns(fields: readonly string[], columns: ReadonlyArray<ArrayLike<unknown> | null>, numRows: number): Array<Record<string, unknown>> {
  if (!canBuildRows(fields)) throw new Error(`rowsOfColumns cannot build rows with a "__proto__" field (${JSON.stringify(fields)}); build them one field at a time.`);
  if (columns.length !== fields.length) throw new Error(`rowsOfColumns needs one column (or null) per field: ${fields.length} fields, ${columns.length} columns.`);
  const rowOf = shapeOf(fields, columns);
  const rows = new Array<Record<string, unknown>>(numRows);
  for (let i = 0; i < numRows; i++) rows[i] = rowOf(columns, i);
  return rows;
}

function shapeOf(fields: readonly string[], columns: ReadonlyArray<ArrayLike<unknown> | null>): RowOfColumns {
  const present = columns.map((column) => column !== null);
  const cacheKey = JSON.stringify([fields, present]);
  let shape = shapes.get(cacheKey);
  if (shape === undefined) {
    const entries = fields.map((name, c) => `${JSON.stringify(name)}: ${present[c] ? `columns[${c}][row]` : 'null'}`);
    // The source holds only JSON string literals, column indexes and null (see the header).
    shape = new Function('columns', 'row', `return { ${entries.join(', ')} };`) as RowOfColumns;
    if (shapes.size >= MAX_SHAPES) shapes.clear();
    shapes.set(cacheKey, shape);
  }
  return shape;
}
