import { parseSparkSchema, toSparkSchema } from './spark-schema';

describe('Spark schema strings', () => {
  it('writes the struct in the key order Spark uses', () => {
    const schema = toSparkSchema({ columns: [{ name: 'at', type: 'timestamp', nullable: false }], partitionBy: [] });
    expect(JSON.stringify(schema)).toBe('{"type":"struct","fields":[{"name":"at","type":"timestamp","nullable":false,"metadata":{}}]}');
  });

  it('parses nested, decimal and map types', () => {
    const parsed = parseSparkSchema(
      JSON.stringify({
        type: 'struct',
        fields: [
          { name: 'd', type: 'decimal(10, 2)', nullable: true, metadata: {} },
          { name: 's', type: { type: 'struct', fields: [{ name: 'x', type: 'integer', nullable: false, metadata: {} }] }, nullable: true, metadata: {} },
          {
            name: 'm',
            type: { type: 'map', keyType: 'string', valueType: { type: 'array', elementType: 'long', containsNull: true }, valueContainsNull: true },
            nullable: true,
            metadata: {},
          },
        ],
      }),
    );
    expect(parsed.fields.map((f) => f.name)).toEqual(['d', 's', 'm']);
    expect(parsed.fields[1].type).toEqual({ type: 'struct', fields: [{ name: 'x', type: 'integer', nullable: false, metadata: {} }] });
  });

  it('names the field whose type it does not know', () => {
    const text = JSON.stringify({ type: 'struct', fields: [{ name: 'v', type: 'variant', nullable: true, metadata: {} }] });
    expect(() => parseSparkSchema(text)).toThrow('Unknown Spark type "variant" at schema.v.');
  });
});
