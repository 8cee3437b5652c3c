/**
 * The errors of a value that does not fit its column, shared by both Parquet writers so a bad row
 * reads the same whichever writer a batch uses.
 */
import type { TableColumn, TableColumnType } from '@pipeline/contracts';
import { describeValue } from './partition-values';

export class DeltaDataError extends Error {
  override readonly name = 'DeltaDataError';
}

/** Throws for a null (or missing) value in a column that is not nullable. */
export function missingValue(column: TableColumn, value: null | undefined, row: number): never {
  throw new DeltaDataError(`Row ${row}: column "${column.name}" is not nullable but the value is ${value}. Fix the row or declare the column nullable.`);
}

/** Throws for a value that is not of its column's type. */
export function invalidValue(column: TableColumn, value: unknown, row: number): never {
  throw new DeltaDataError(`Row ${row}: column "${column.name}" is ${column.type} but the value is ${describeValue(value)}. ${expectedForm(column.type)}`);
}

function expectedForm(type: TableColumnType): string {
  switch (type) {
    case 'string':
      return 'Expected a string.';
    case 'long':
      return 'Expected a safe integer number.';
    case 'integer':
      return 'Expected an integer number within 32 bits.';
    case 'double':
      return 'Expected a number.';
    case 'boolean':
      return 'Expected a boolean.';
    case 'timestamp':
      return 'Expected epoch milliseconds as an integer number, or epoch microseconds as a 64-bit bigint.';
    case 'date':
      return "Expected a 'YYYY-MM-DD' string of a real date.";
    case 'binary':
      return 'Expected a Buffer.';
  }
}
