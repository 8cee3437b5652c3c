/**
 * Delta's `schemaString`: a Spark `StructType` serialised as JSON.
 *
 * Invariants:
 * - `toSparkSchema` is deterministic: the same `TableSchema` gives the same `schemaString` bytes
 *   (key order `type, fields` / `name, type, nullable, metadata`, as Spark writes it).
 * - `parseSparkSchema` accepts the whole Spark type grammar (primitives, `decimal(p,s)`, struct,
 *   array, map) and rejects anything else with a message naming the offending field.
 */
import type { TableColumnType, TableSchema } from '@pipeline/contracts';

export type SparkDataType = string | SparkStructType | SparkArrayType | SparkMapType;

export interface SparkStructField {
  readonly name: string;
  readonly type: SparkDataType;
  readonly nullable: boolean;
  readonly metadata: Record<string, unknown>;
}

export interface SparkStructType {
  readonly type: 'struct';
  readonly fields: readonly SparkStructField[];
}

export interface SparkArrayType {
  readonly type: 'array';
  readonly elementType: SparkDataType;
  readonly containsNull: boolean;
}

export interface SparkMapType {
  readonly type: 'map';
  readonly keyType: SparkDataType;
  readonly valueType: SparkDataType;
  readonly valueContainsNull: boolean;
}

const PRIMITIVES = new Set(['string', 'long', 'integer', 'short', 'byte', 'float', 'double', 'boolean', 'binary', 'date', 'timestamp', 'timestamp_ntz', 'void']);
const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(-?\d+)\s*\)$/;

export class DeltaSchemaError extends Error {
  override readonly name = 'DeltaSchemaError';
}

/** The Spark struct for a pipeline table schema (every `TableColumnType` is a Spark primitive name). */
export function toSparkSchema(schema: TableSchema): SparkStructType {
  return {
    type: 'struct',
    fields: schema.columns.map((column) => ({ name: column.name, type: column.type, nullable: column.nullable, metadata: {} })),
  };
}

/** Parse a `schemaString`; throws `DeltaSchemaError` naming what is wrong. */
export function parseSparkSchema(schemaString: string): SparkStructType {
  let json: unknown;
  try {
    json = JSON.parse(schemaString);
  } catch (error) {
    throw new DeltaSchemaError(`Delta schemaString is not JSON (${(error as Error).message}): ${schemaString.slice(0, 200)}`);
  }
  const type = parseType(json, 'schema');
  if (typeof type === 'string' || type.type !== 'struct') {
    throw new DeltaSchemaError(`Delta schemaString must be a struct at the top level, got ${JSON.stringify(json).slice(0, 200)}.`);
  }
  return type;
}

function parseType(json: unknown, where: string): SparkDataType {
  if (typeof json === 'string') {
    if (PRIMITIVES.has(json) || DECIMAL.test(json)) return json;
    throw new DeltaSchemaError(`Unknown Spark type ${JSON.stringify(json)} at ${where}.`);
  }
  if (!isObject(json)) throw new DeltaSchemaError(`Expected a Spark type at ${where}, got ${JSON.stringify(json)}.`);
  switch (json['type']) {
    case 'struct': {
      const fields = json['fields'];
      if (!Array.isArray(fields)) throw new DeltaSchemaError(`Struct at ${where} has no "fields" array.`);
      return {
        type: 'struct',
        fields: fields.map((field: unknown, index) => {
          if (!isObject(field) || typeof field['name'] !== 'string') {
            throw new DeltaSchemaError(`Field ${index} of the struct at ${where} has no "name".`);
          }
          const name = field['name'];
          return {
            name,
            type: parseType(field['type'], `${where}.${name}`),
            nullable: field['nullable'] !== false,
            metadata: isObject(field['metadata']) ? field['metadata'] : {},
          };
        }),
      };
    }
    case 'array':
      return { type: 'array', elementType: parseType(json['elementType'], `${where}[]`), containsNull: json['containsNull'] !== false };
    case 'map':
      return {
        type: 'map',
        keyType: parseType(json['keyType'], `${where}{key}`),
        valueType: parseType(json['valueType'], `${where}{value}`),
        valueContainsNull: json['valueContainsNull'] !== false,
      };
    default:
      throw new DeltaSchemaError(`Unknown Spark type ${JSON.stringify(json['type'])} at ${where}.`);
  }
}

/** A short, readable name for a Spark type, for messages. */
export function describeSparkType(type: SparkDataType): string {
  if (typeof type === 'string') return type;
  switch (type.type) {
    case 'struct':
      return `struct<${type.fields.map((f) => `${f.name}:${describeSparkType(f.type)}`).join(',')}>`;
    case 'array':
      return `array<${describeSparkType(type.elementType)}>`;
    case 'map':
      return `map<${describeSparkType(type.keyType)},${describeSparkType(type.valueType)}>`;
  }
}

/**
 * The differences between a table's schema and partitioning and the expected ones, one sentence
 * each (empty when they match). Column order counts, as it does for `schemaString` equality.
 */
export function describeSchemaDifferences(
  actual: { schema: SparkStructType; partitionColumns: readonly string[] },
  expected: { schema: SparkStructType; partitionColumns: readonly string[] },
): string[] {
  const differences: string[] = [];
  const actualByName = new Map(actual.schema.fields.map((f) => [f.name, f]));
  const expectedByName = new Map(expected.schema.fields.map((f) => [f.name, f]));
  for (const field of expected.schema.fields) {
    const found = actualByName.get(field.name);
    if (!found) {
      differences.push(`column "${field.name}" (${describeSparkType(field.type)}) is missing from the table`);
      continue;
    }
    const actualType = describeSparkType(found.type);
    const expectedType = describeSparkType(field.type);
    if (actualType !== expectedType) differences.push(`column "${field.name}" is ${actualType} in the table but ${expectedType} in the schema`);
    if (found.nullable !== field.nullable) {
      differences.push(`column "${field.name}" is ${found.nullable ? 'nullable' : 'not nullable'} in the table but ${field.nullable ? 'nullable' : 'not nullable'} in the schema`);
    }
  }
  for (const field of actual.schema.fields) {
    if (!expectedByName.has(field.name)) differences.push(`the table has column "${field.name}" (${describeSparkType(field.type)}) that the schema does not`);
  }
  if (differences.length === 0) {
    const actualOrder = actual.schema.fields.map((f) => f.name).join(', ');
    const expectedOrder = expected.schema.fields.map((f) => f.name).join(', ');
    if (actualOrder !== expectedOrder) differences.push(`columns are in the order (${actualOrder}) in the table but (${expectedOrder}) in the schema`);
  }
  if (actual.partitionColumns.join('\u0000') !== expected.partitionColumns.join('\u0000')) {
    differences.push(`the table is partitioned by [${actual.partitionColumns.join(', ')}] but the schema by [${expected.partitionColumns.join(', ')}]`);
  }
  return differences;
}

/** The pipeline column type of a Spark type, or `undefined` when the pipeline has no such type. */
export function tableColumnTypeOf(type: SparkDataType): TableColumnType | undefined {
  switch (type) {
    case 'string':
    case 'long':
    case 'integer':
    case 'double':
    case 'boolean':
    case 'timestamp':
    case 'date':
    case 'binary':
      return type;
    default:
      return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
