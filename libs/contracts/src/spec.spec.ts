import { canonicalJson, canonicalSpecJson, parseSpec } from './spec';
import { SpecValidationError, type PipelineSpec, type SpecProblem } from './spec.types';

const VALID = `version: 1
name: sensor-readings
source:
  name: sensors
  format: csv
  delimiter: ","
  header: true
  columns:
    - { name: reading_id, type: string }
    - { name: device_id, type: string }
    - { name: site, type: string }
    - { name: ts, type: timestamp }
    - { name: temperature, type: double, nullable: true }
    - { name: humidity, type: double }
    - { name: status, type: string }
eventTime: { column: ts, format: iso8601, timeZone: UTC }
eventId: { column: reading_id }
partitionKey: device_id
groupBy: [device_id]
windows:
  - { name: per_minute, type: tumbling, size: 1m }
  - { name: last_5m, type: hopping, size: 5m, slide: 1m }
aggregates:
  - { name: readings, fn: count }
  - { name: avg_temperature, fn: avg, column: temperature }
  - { name: max_temperature, fn: max, column: temperature }
  - { name: distinct_statuses, fn: count_distinct, column: status }
watermark: { delay: 30s }
gold: { shards: 4, outputModes: [append, update] }
`;

/** VALID with one exact substring replaced (fails loudly if the substring is not there). */
function edit(from: string, to: string, text = VALID): string {
  if (!text.includes(from)) throw new Error(`test setup: ${JSON.stringify(from)} is not in the spec`);
  return text.replace(from, to);
}

function problemsOf(text: string): SpecProblem[] {
  try {
    parseSpec(text, 'test.spec.yaml');
  } catch (error) {
    if (error instanceof SpecValidationError) return error.problems;
    throw error;
  }
  throw new Error('expected the spec to be rejected');
}

/** The only problem of a spec that has exactly one. */
function onlyProblem(text: string): SpecProblem {
  const problems = problemsOf(text);
  expect(problems).toHaveLength(1);
  return problems[0];
}

describe('parseSpec on a valid spec', () => {
  it('reads every section into the typed spec with durations in milliseconds', () => {
    const spec = parseSpec(VALID, 'sensors.spec.yaml');
    const expected: PipelineSpec = {
      version: 1,
      name: 'sensor-readings',
      source: {
        name: 'sensors',
        format: 'csv',
        delimiter: ',',
        header: true,
        columns: [
          { name: 'reading_id', type: 'string', nullable: false },
          { name: 'device_id', type: 'string', nullable: false },
          { name: 'site', type: 'string', nullable: false },
          { name: 'ts', type: 'timestamp', nullable: false },
          { name: 'temperature', type: 'double', nullable: true },
          { name: 'humidity', type: 'double', nullable: false },
          { name: 'status', type: 'string', nullable: false },
        ],
      },
      eventTime: { column: 'ts', format: 'iso8601', timeZone: 'UTC' },
      eventId: { kind: 'column', column: 'reading_id' },
      partitionKey: 'device_id',
      groupBy: ['device_id'],
      windows: [
        { name: 'per_minute', kind: 'tumbling', sizeMs: 60_000 },
        { name: 'last_5m', kind: 'hopping', sizeMs: 300_000, slideMs: 60_000 },
      ],
      aggregates: [
        { name: 'readings', fn: 'count' },
        { name: 'avg_temperature', fn: 'avg', column: 'temperature' },
        { name: 'max_temperature', fn: 'max', column: 'temperature' },
        { name: 'distinct_statuses', fn: 'count_distinct', column: 'status' },
      ],
      watermark: { delayMs: 30_000, idleTimeoutMs: 900_000 },
      gold: { shards: 4, outputModes: ['append', 'update'] },
    };
    expect(spec).toEqual(expected);
  });

  it('fills in the documented defaults for optional settings', () => {
    const text = `version: 1
name: minimal
source:
  name: s
  columns: [{ name: id, type: string }, { name: at, type: string }]
eventTime: { column: at }
eventId: { derive: source-row }
partitionKey: id
groupBy: []
windows: [{ name: w, type: tumbling, size: 1h30m }]
aggregates: [{ name: n, fn: count }]
watermark: { delay: 0s }
`;
    const spec = parseSpec(text, 'minimal.yaml');
    expect(spec.source).toEqual({
      name: 's',
      format: 'csv',
      delimiter: ',',
      header: true,
      columns: [
        { name: 'id', type: 'string', nullable: false },
        { name: 'at', type: 'string', nullable: false },
      ],
    });
    expect(spec.eventTime).toEqual({ column: 'at', format: 'iso8601', timeZone: 'UTC' });
    expect(spec.eventId).toEqual({ kind: 'derived' });
    expect(spec.groupBy).toEqual([]);
    expect(spec.windows).toEqual([{ name: 'w', kind: 'tumbling', sizeMs: 5_400_000 }]);
    expect(spec.watermark).toEqual({ delayMs: 0, idleTimeoutMs: 900_000 });
    expect(spec.gold).toEqual({ shards: 1, outputModes: ['append'] });
  });

  it('accepts block-style YAML, anchors and a tab delimiter', () => {
    const text = edit('  delimiter: ","', '  delimiter: "\\t"', edit('watermark: { delay: 30s }', 'watermark:\n  delay: &late 30s\n'));
    const spec = parseSpec(text, 'block.yaml');
    expect(spec.source.delimiter).toBe('\t');
    expect(spec.watermark.delayMs).toBe(30_000);
  });

  it('accepts event time patterns and epoch formats on compatible column types', () => {
    expect(parseSpec(edit('format: iso8601, timeZone: UTC', 'format: "dd/MM/yyyy HH:mm:ss", timeZone: Europe/Paris'), 'p.yaml').eventTime).toEqual({
      column: 'ts',
      format: 'dd/MM/yyyy HH:mm:ss',
      timeZone: 'Europe/Paris',
    });
    const epoch = edit('{ name: ts, type: timestamp }', '{ name: ts, type: long }', edit('format: iso8601', 'format: epoch_millis'));
    expect(parseSpec(epoch, 'e.yaml').eventTime.format).toBe('epoch_millis');
    const seconds = edit('{ name: ts, type: timestamp }', '{ name: ts, type: double }', edit('format: iso8601', 'format: epoch_seconds'));
    expect(parseSpec(seconds, 's.yaml').eventTime.format).toBe('epoch_seconds');
  });

  it('lets min and max read timestamp columns', () => {
    const spec = parseSpec(edit('{ name: max_temperature, fn: max, column: temperature }', '{ name: last_seen, fn: max, column: ts }'), 'm.yaml');
    expect(spec.aggregates[2]).toEqual({ name: 'last_seen', fn: 'max', column: 'ts' });
  });
});

describe('parseSpec problem reports', () => {
  it('reports a YAML syntax error with its line and column', () => {
    const problem = onlyProblem('version: 1\nname: x\nsource: { name: s\n');
    expect(problem.path).toBe('');
    expect(problem.expected).toBe('valid YAML');
    expect(problem.line).toBe(4);
  });

  it('reports tab indentation as a syntax problem with a hint', () => {
    const problem = onlyProblem('version: 1\nname: x\nsource:\n\tname: s\n');
    expect(problem.expected).toContain('spaces, not tabs');
    expect(problem.line).toBe(4);
  });

  it('reports an empty file as a missing spec', () => {
    const problem = onlyProblem('# nothing yet\n');
    expect(problem).toMatchObject({ path: '', line: 1, found: 'an empty value' });
    expect(problem.expected).toContain('a pipeline spec');
  });

  it('rejects more than one document in a file', () => {
    expect(onlyProblem(`${VALID}---\nversion: 1\n`)).toMatchObject({ path: '', expected: expect.stringContaining('a single YAML document'), line: 30 });
  });

  it('names an unknown key and suggests the likely intended one, at the key position', () => {
    const problem = onlyProblem(edit('  header: true', '  header: true\n  delimter: ";"'));
    expect(problem).toMatchObject({ path: 'source.delimter', line: 8, column: 3, found: 'the unknown key "delimter"' });
    expect(problem.expected).toContain('did you mean "delimiter"?');
  });

  it('lists the allowed keys when an unknown key is not close to any', () => {
    const problem = onlyProblem(edit('watermark: { delay: 30s }', 'watermark: { delay: 30s, banana: 1 }'));
    expect(problem.path).toBe('watermark.banana');
    expect(problem.expected).toBe('one of the keys "delay" or "idleTimeout"');
  });

  it('reports a key given twice, pointing at the first one', () => {
    const problem = onlyProblem(edit('partitionKey: device_id', 'partitionKey: device_id\npartitionKey: site'));
    expect(problem).toMatchObject({ path: 'partitionKey', line: 19, expected: 'each key once', found: '"partitionKey" again (first on line 18)' });
  });

  it('reports a missing required field at the mapping that lacks it', () => {
    const problem = onlyProblem(edit('eventTime: { column: ts, format: iso8601, timeZone: UTC }', 'eventTime: { format: iso8601, timeZone: UTC }'));
    expect(problem).toMatchObject({ path: 'eventTime.column', found: 'missing', line: 16, column: 12 });
  });

  it('reads the idle timeout of source partitions, and refuses one of zero', () => {
    expect(parseSpec(edit('watermark: { delay: 30s }', 'watermark: { delay: 30s, idleTimeout: 20m }'), 'spec.yaml').watermark).toEqual({
      delayMs: 30_000,
      idleTimeoutMs: 1_200_000,
    });
    const problem = onlyProblem(edit('watermark: { delay: 30s }', 'watermark: { delay: 30s, idleTimeout: 0s }'));
    expect(problem.path).toBe('watermark.idleTimeout');
  });

  it('requires the watermark delay and says it is never defaulted', () => {
    const problem = onlyProblem(edit('watermark: { delay: 30s }', 'watermark: {}'));
    expect(problem).toMatchObject({ path: 'watermark.delay', found: 'missing' });
    expect(onlyProblem(edit('watermark: { delay: 30s }\n', '')).expected).toContain('never defaulted');
  });

  it('reports wrong value types with what was found', () => {
    expect(onlyProblem(edit('header: true', 'header: "yes please"'))).toMatchObject({ path: 'source.header', expected: 'true or false', found: '"yes please"' });
    expect(onlyProblem(edit('groupBy: [device_id]', 'groupBy: device_id'))).toMatchObject({ path: 'groupBy', found: '"device_id"' });
    expect(problemsOf(edit('source:\n', 'source: sensors\nx:\n'))[0]).toMatchObject({ path: 'source', line: 3, column: 9, found: '"sensors"' });
  });

  it('requires version 1', () => {
    expect(onlyProblem(edit('version: 1', 'version: 2'))).toMatchObject({ path: 'version', line: 1, column: 10, found: '2' });
    expect(onlyProblem(edit('version: 1', 'version: "1"')).found).toBe('"1"');
  });

  it('checks the pipeline name pattern', () => {
    expect(onlyProblem(edit('name: sensor-readings', 'name: Sensor_Readings'))).toMatchObject({ path: 'name', line: 2, found: '"Sensor_Readings"' });
    expect(onlyProblem(edit('name: sensor-readings', 'name: s')).path).toBe('name');
    expect(onlyProblem(edit('name: sensor-readings', `name: a${'b'.repeat(63)}`)).path).toBe('name');
  });

  it('requires a one-character delimiter that is not a quote', () => {
    expect(onlyProblem(edit('delimiter: ","', 'delimiter: ";;"'))).toMatchObject({ path: 'source.delimiter', found: '";;"', line: 6 });
    expect(onlyProblem(edit('delimiter: ","', `delimiter: '"'`)).path).toBe('source.delimiter');
  });

  it('accepts only the csv source format', () => {
    expect(onlyProblem(edit('format: csv', 'format: json'))).toMatchObject({ path: 'source.format', found: '"json"' });
  });

  it('reports a duplicate column name at the second one', () => {
    const problem = onlyProblem(edit('{ name: site, type: string }', '{ name: device_id, type: string }', edit('groupBy: [device_id]', 'groupBy: [device_id]')));
    expect(problem).toMatchObject({ path: 'source.columns[2].name', line: 11, found: '"device_id" again (first on line 10)' });
  });

  it('reports an unknown column type with a suggestion', () => {
    const problem = onlyProblem(edit('{ name: humidity, type: double }', '{ name: humidity, type: float64 }'));
    expect(problem).toMatchObject({ path: 'source.columns[5].type', found: '"float64"' });
    const typo = onlyProblem(edit('{ name: humidity, type: double }', '{ name: humidity, type: doubel }'));
    expect(typo.expected).toContain('did you mean "double"?');
  });

  it('rejects an empty column list', () => {
    const text = VALID.replace(/ {2}columns:\n( {4}- .*\n)+/, '  columns: []\n');
    const problems = problemsOf(text);
    expect(problems[0]).toMatchObject({ path: 'source.columns', expected: 'at least one column', found: 'an empty list' });
  });

  it('reports references to undeclared columns everywhere they can appear', () => {
    const text = VALID.replace('column: ts,', 'column: time,')
      .replace('{ column: reading_id }', '{ column: id }')
      .replace('partitionKey: device_id', 'partitionKey: devce_id')
      .replace('groupBy: [device_id]', 'groupBy: [device_id, region]')
      .replace('column: temperature }\n  - { name: max', 'column: temp }\n  - { name: max');
    const problems = problemsOf(text);
    expect(problems.map((p) => [p.path, p.found])).toEqual([
      ['eventTime.column', '"time"'],
      ['eventId.column', '"id"'],
      ['partitionKey', '"devce_id"'],
      ['groupBy[1]', '"region"'],
      ['aggregates[1].column', '"temp"'],
    ]);
    expect(problems[2].expected).toContain('did you mean "device_id"?');
    expect(problems[3]).toMatchObject({ line: 19, column: 22 });
  });

  it('requires an event time column type that fits the format', () => {
    const iso = onlyProblem(edit('{ name: ts, type: timestamp }', '{ name: ts, type: long }'));
    expect(iso).toMatchObject({ path: 'eventTime.column', found: '"ts", a long column' });
    expect(iso.expected).toBe('a column of type "string" or "timestamp" for format "iso8601"');
    const millis = onlyProblem(edit('format: iso8601', 'format: epoch_millis', edit('{ name: ts, type: timestamp }', '{ name: ts, type: string }')));
    expect(millis.expected).toBe('a column of type "long" or "timestamp" for format "epoch_millis"');
    const pattern = onlyProblem(edit('format: iso8601', 'format: "yyyyMMdd"', edit('{ name: ts, type: timestamp }', '{ name: ts, type: boolean }')));
    expect(pattern.expected).toContain('for the pattern "yyyyMMdd"');
  });

  it('rejects an event time pattern with unknown letters and says which', () => {
    const problem = onlyProblem(edit('format: iso8601', 'format: "yyyy-MM-dd hh:mm"'));
    expect(problem.path).toBe('eventTime.format');
    expect(problem.found).toContain('"hh" at position 12');
    expect(onlyProblem(edit('format: iso8601', 'format: "HH:mm:ss"')).found).toContain('no yyyy, MM, dd');
  });

  it('rejects an unknown time zone and suggests a close one', () => {
    const problem = onlyProblem(edit('timeZone: UTC', 'timeZone: Europe/Pariss'));
    expect(problem).toMatchObject({ path: 'eventTime.timeZone', found: 'the unknown time zone "Europe/Pariss"', line: 16 });
    expect(problem.expected).toContain('did you mean "Europe/Paris"?');
  });

  it('requires exactly one of an id column or a derived id', () => {
    expect(onlyProblem(edit('{ column: reading_id }', '{ column: reading_id, derive: source-row }'))).toMatchObject({ path: 'eventId', found: 'both' });
    expect(onlyProblem(edit('{ column: reading_id }', '{}'))).toMatchObject({ path: 'eventId.column', found: 'missing' });
    expect(onlyProblem(edit('{ column: reading_id }', '{ derive: row-hash }'))).toMatchObject({ path: 'eventId.derive', found: '"row-hash"' });
  });

  it('requires a non-nullable string or long id column', () => {
    expect(onlyProblem(edit('{ column: reading_id }', '{ column: temperature }'))).toMatchObject({ path: 'eventId.column', found: '"temperature", a double column' });
    const nullable = onlyProblem(edit('{ name: reading_id, type: string }', '{ name: reading_id, type: string, nullable: true }'));
    expect(nullable.found).toBe('"reading_id", a nullable column');
  });

  it('reports a grouping column listed twice', () => {
    expect(onlyProblem(edit('groupBy: [device_id]', 'groupBy: [device_id, device_id]'))).toMatchObject({ path: 'groupBy[1]', found: '"device_id" again' });
  });

  it('requires numeric columns for sum and avg, and numeric or timestamp for min and max', () => {
    const avg = onlyProblem(edit('fn: avg, column: temperature', 'fn: avg, column: status'));
    expect(avg).toMatchObject({ path: 'aggregates[1].column', expected: 'a "long" or "double" column for avg', found: '"status", a string column' });
    const sum = onlyProblem(edit('fn: avg, column: temperature', 'fn: sum, column: ts'));
    expect(sum.found).toBe('"ts", a timestamp column');
    const max = onlyProblem(edit('fn: max, column: temperature', 'fn: max, column: site'));
    expect(max.expected).toBe('a "long", "double" or "timestamp" column for max');
  });

  it('says count takes no column and count_distinct takes any column', () => {
    const count = onlyProblem(edit('{ name: readings, fn: count }', '{ name: readings, fn: count, column: status }'));
    expect(count).toMatchObject({ path: 'aggregates[0].column', found: '"status"' });
    expect(count.expected).toContain('count_distinct');
    expect(parseSpec(edit('fn: count_distinct, column: status', 'fn: count_distinct, column: ts'), 'c.yaml').aggregates[3].column).toBe('ts');
    expect(onlyProblem(edit('fn: count_distinct, column: status', 'fn: count_distinct'))).toMatchObject({ path: 'aggregates[3].column', found: 'missing' });
  });

  it('reports an unknown aggregate function with a suggestion', () => {
    const problem = onlyProblem(edit('fn: avg,', 'fn: average,'));
    expect(problem).toMatchObject({ path: 'aggregates[1].fn', found: '"average"' });
    expect(onlyProblem(edit('fn: avg,', 'fn: avgg,')).expected).toContain('did you mean "avg"?');
  });

  it('rejects duplicate aggregate names and names that clash with grouping or reserved columns', () => {
    expect(onlyProblem(edit('name: max_temperature', 'name: readings'))).toMatchObject({ path: 'aggregates[2].name', line: 26, found: '"readings" again (first on line 24)' });
    expect(onlyProblem(edit('name: max_temperature', 'name: device_id')).expected).toContain('different from the groupBy column "device_id"');
    expect(onlyProblem(edit('name: max_temperature', 'name: window_start')).expected).toContain(
      'a name other than "window_start" in any case: every gold row has a column of that name',
    );
    expect(onlyProblem(edit('name: max_temperature', 'name: window_end')).path).toBe('aggregates[2].name');
  });

  it('rejects duplicate window names', () => {
    expect(onlyProblem(edit('name: last_5m', 'name: per_minute'))).toMatchObject({ path: 'windows[1].name', found: '"per_minute" again (first on line 21)' });
  });

  it('checks hopping slides: present, positive and no longer than the size', () => {
    expect(onlyProblem(edit('size: 5m, slide: 1m', 'size: 5m'))).toMatchObject({ path: 'windows[1].slide', found: 'missing' });
    expect(onlyProblem(edit('slide: 1m', 'slide: 0s'))).toMatchObject({ path: 'windows[1].slide', expected: 'a duration greater than 0, like "1m"' });
    const longer = onlyProblem(edit('slide: 1m', 'slide: 10m'));
    expect(longer).toMatchObject({ path: 'windows[1].slide', line: 22, column: 54, expected: 'a slide no longer than the size 5m', found: '"10m"' });
  });

  it('accepts a slide that does not divide the size, as Spark does', () => {
    const spec = parseSpec(edit('slide: 1m', 'slide: 2m'), 'test.spec.yaml');
    expect(spec.windows[1]).toEqual({ name: 'last_5m', kind: 'hopping', sizeMs: 300_000, slideMs: 120_000 });
  });

  it('reads a window offset below the slide, for tumbling and hopping windows, and leaves an offset of 0 out', () => {
    const spec = parseSpec(edit('size: 5m, slide: 1m', 'size: 5m, slide: 2m, offset: 30s', edit('size: 1m }', 'size: 1m, offset: 15s }')), 'test.spec.yaml');
    expect(spec.windows).toEqual([
      { name: 'per_minute', kind: 'tumbling', sizeMs: 60_000, offsetMs: 15_000 },
      { name: 'last_5m', kind: 'hopping', sizeMs: 300_000, slideMs: 120_000, offsetMs: 30_000 },
    ]);
    const zero = parseSpec(edit('size: 1m }', 'size: 1m, offset: 0s }'), 'test.spec.yaml');
    expect(zero.windows[0]).toEqual({ name: 'per_minute', kind: 'tumbling', sizeMs: 60_000 });
    expect(canonicalSpecJson(zero)).toBe(canonicalSpecJson(parseSpec(VALID, 'test.spec.yaml')));
  });

  it('rejects a negative offset, or one not shorter than the slide (the size of a tumbling window), naming line and column', () => {
    const negative = onlyProblem(edit('size: 1m }', 'size: 1m, offset: -15m }'));
    expect(negative).toMatchObject({ path: 'windows[0].offset', line: 21, column: 59, found: '"-15m"' });
    expect(negative.expected).toBe('an offset of 0 or more, shorter than the slide (1m); a negative offset −x is the offset slide − x');
    const tooLong = onlyProblem(edit('slide: 1m }', 'slide: 1m, offset: 1m }'));
    expect(tooLong).toMatchObject({ path: 'windows[1].offset', line: 22, found: '"1m"' });
    expect(tooLong.expected).toBe('an offset shorter than the 1m between window starts (0 ≤ offset < slide; 1m gives the same windows as 0s)');
    expect(onlyProblem(edit('size: 1m }', 'size: 1m, offset: 90s }'))).toMatchObject({ path: 'windows[0].offset', found: '"90s"' });
    expect(onlyProblem(edit('size: 1m }', 'size: 1m, offset: soon }'))).toMatchObject({ path: 'windows[0].offset', expected: 'a duration like "30s", "5m", "1h"' });
  });

  it('names every window type, and the one meant, for a misspelt type', () => {
    const problem = onlyProblem(edit('type: tumbling, size: 1m', 'type: sesion, size: 1m'));
    expect(problem).toMatchObject({ path: 'windows[0].type', found: '"sesion"' });
    expect(problem.expected).toBe('one of "tumbling", "hopping" or "session" (did you mean "session"?)');
  });

  it('rejects a slide on a tumbling window', () => {
    const problem = onlyProblem(edit('type: tumbling, size: 1m', 'type: tumbling, size: 1m, slide: 30s'));
    expect(problem).toMatchObject({ path: 'windows[0].slide', found: '"30s"' });
    expect(problem.expected).toContain('use type: hopping');
  });

  it('explains the duration syntax when a duration is malformed or zero', () => {
    const words = onlyProblem(edit('size: 1m', 'size: "5 minutes"'));
    expect(words).toMatchObject({ path: 'windows[0].size', expected: 'a duration like "30s", "5m", "1h"', found: '"5 minutes"', line: 21 });
    expect(onlyProblem(edit('size: 1m', 'size: 60')).found).toBe('60');
    expect(onlyProblem(edit('size: 1m', 'size: 0m')).expected).toBe('a duration greater than 0, like "1m"');
    expect(onlyProblem(edit('delay: 30s', 'delay: -30s')).path).toBe('watermark.delay');
  });

  it('rejects an empty window or aggregate list', () => {
    expect(problemsOf(VALID.replace(/windows:\n( {2}- .*\n)+/, 'windows: []\n'))[0]).toMatchObject({ path: 'windows', expected: 'at least one window' });
    expect(problemsOf(VALID.replace(/aggregates:\n( {2}- .*\n)+/, 'aggregates: []\n'))[0]).toMatchObject({ path: 'aggregates', expected: 'at least one aggregate' });
  });

  it('requires 1 to 1024 whole shards', () => {
    expect(onlyProblem(edit('shards: 4', 'shards: 0'))).toMatchObject({ path: 'gold.shards', found: '0' });
    expect(onlyProblem(edit('shards: 4', 'shards: 1025')).found).toBe('1025');
    expect(onlyProblem(edit('shards: 4', 'shards: 2.5')).found).toBe('2.5');
    expect(parseSpec(edit('shards: 4', 'shards: 1024'), 'g.yaml').gold.shards).toBe(1024);
  });

  it('requires output modes to be a non-empty set of append and update', () => {
    expect(onlyProblem(edit('[append, update]', '[]'))).toMatchObject({ path: 'gold.outputModes', found: 'an empty list' });
    expect(onlyProblem(edit('[append, update]', '[append, complete]'))).toMatchObject({ path: 'gold.outputModes[1]', found: '"complete"' });
    expect(onlyProblem(edit('[append, update]', '[append, append]'))).toMatchObject({ path: 'gold.outputModes[1]', found: '"append" again' });
  });

  it('lists every problem of a badly broken file at once, in file order, with positions', () => {
    const text = `version: 3
name: Bad Name
source:
  name: sensors
  delimiter: ";;"
  colums: []
eventTime: { column: ts, timeZone: Mars/Olympus }
eventId: { column: id, derive: source-row }
partitionKey: 7
groupBy: [device]
windows:
  - { name: w, type: sliding, size: 1 minute }
  - { name: w, type: hopping, size: 5m, slide: 3m, offset: 3m }
aggregates:
  - { name: n, fn: count, column: x }
  - { name: window_end, fn: median }
watermark: { delay: soon }
gold: { shards: many, outputModes: [complete] }
`;
    let error: unknown;
    try {
      parseSpec(text, 'broken.spec.yaml');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SpecValidationError);
    const problems = (error as SpecValidationError).problems;
    expect(problems.map((p) => `${p.line}:${p.column} ${p.path}`)).toEqual([
      '1:10 version',
      '2:7 name',
      '4:3 source.columns',
      '5:14 source.delimiter',
      '6:3 source.colums',
      '7:36 eventTime.timeZone',
      '8:10 eventId',
      '9:15 partitionKey',
      '12:22 windows[0].type',
      '12:37 windows[0].size',
      '13:13 windows[1].name',
      '13:60 windows[1].offset',
      '15:35 aggregates[0].column',
      '16:13 aggregates[1].name',
      '16:29 aggregates[1].fn',
      '17:21 watermark.delay',
      '18:17 gold.shards',
      '18:37 gold.outputModes[0]',
    ]);
    expect((error as SpecValidationError).file).toBe('broken.spec.yaml');
    expect((error as Error).message).toContain('broken.spec.yaml: 18 problems in the pipeline spec:');
    expect((error as Error).message).toContain('line 12:37 windows[0].size: expected a duration like "30s", "5m", "1h", found "1 minute"');
  });
});

/** A spec whose columns are literally event_id, event_time, …, with `lines` replacing its columns when given. */
function literalSpec(overrides: { columns?: string; eventTime?: string; eventId?: string; groupBy?: string; aggregates?: string } = {}): string {
  return `version: 1
name: literal
source:
  name: lit
  columns:
${
  overrides.columns ??
  `    - { name: event_id, type: string }
    - { name: event_time, type: string }
    - { name: device, type: string }
    - { name: value, type: double }`
}
eventTime: ${overrides.eventTime ?? '{ column: event_time, format: "yyyy-MM-dd HH:mm:ss" }'}
eventId: ${overrides.eventId ?? '{ column: event_id }'}
partitionKey: device
groupBy: ${overrides.groupBy ?? '[device]'}
windows: [{ name: per_minute, type: tumbling, size: 1m }]
aggregates: ${overrides.aggregates ?? '[{ name: readings, fn: count }]'}
watermark: { delay: 0s }
`;
}

describe('parseSpec on names that end in the same table', () => {
  it('accepts source columns named event_id and event_time that are the event id and the event time, whatever their type and format', () => {
    expect(parseSpec(literalSpec(), 'l.yaml').source.columns.map((c) => c.name)).toEqual(['event_id', 'event_time', 'device', 'value']);
    for (const [type, format] of [
      ['timestamp', 'iso8601'],
      ['string', 'iso8601'],
      ['long', 'epoch_millis'],
      ['double', 'epoch_seconds'],
    ]) {
      const text = literalSpec({
        columns: `    - { name: event_id, type: long }\n    - { name: event_time, type: ${type} }\n    - { name: device, type: string }`,
        eventTime: `{ column: event_time, format: ${format} }`,
      });
      expect(parseSpec(text, 'l.yaml').eventTime).toEqual({ column: 'event_time', format, timeZone: 'UTC' });
    }
  });

  it('refuses event_id or event_time for a column that is not the event id or event time, and says how to fix it', () => {
    const id = onlyProblem(literalSpec({ eventId: '{ derive: source-row }' }));
    expect(id).toMatchObject({ path: 'source.columns[0].name', line: 6, column: 15, found: '"event_id"' });
    expect(id.expected).toBe(
      'this column as the event id (eventId: { column: event_id }), which silver writes as its own "event_id" column, or a name other than "event_id" in any case (rename the column in source.columns and in the CSV header)',
    );
    const time = onlyProblem(
      literalSpec({
        columns: '    - { name: event_id, type: string }\n    - { name: event_time, type: string }\n    - { name: device, type: string }\n    - { name: at, type: string }',
        eventTime: '{ column: at }',
      }),
    );
    expect(time).toMatchObject({ path: 'source.columns[1].name', line: 7, found: '"event_time"' });
    expect(time.expected).toContain('this column as the event time (eventTime: { column: event_time })');
  });

  it('refuses a case variant of event_id even when it is the event id, since silver writes event_id beside it', () => {
    const text = literalSpec({
      columns: '    - { name: Event_Id, type: string }\n    - { name: event_time, type: string }\n    - { name: device, type: string }',
      eventId: '{ column: Event_Id }',
    });
    expect(onlyProblem(text)).toMatchObject({ path: 'source.columns[0].name', found: '"Event_Id"' });
    expect(onlyProblem(text).expected).toContain('this column as the event id named exactly "event_id"');
  });

  it.each(['event_date', 'enqueued_time', 'partition_id', 'sequence_number', 'capture_file', 'source_row', 'shard', 'Shard', 'EVENT_DATE'])(
    'refuses a source column named %s, which silver adds',
    (name) => {
      const problem = onlyProblem(edit('{ name: status, type: string }', `{ name: ${name}, type: string }`).replace('column: status', `column: ${name}`));
      expect(problem).toMatchObject({ path: 'source.columns[6].name', line: 15, column: 15, found: JSON.stringify(name) });
      expect(problem.expected).toContain(`a name other than "${name.toLowerCase()}" in any case: silver adds a column of that name to every row`);
      expect(problem.expected).toContain('rename the column in source.columns and in the CSV header');
    },
  );

  it.each(['late_windows', 'late_threshold', 'gold_batch'])('refuses a source column named %s, which the late table adds to the silver columns', (name) => {
    const problem = onlyProblem(edit('{ name: status, type: string }', `{ name: ${name}, type: string }`).replace('column: status', `column: ${name}`));
    expect(problem).toMatchObject({ path: 'source.columns[6].name', found: JSON.stringify(name) });
    expect(problem.expected).toContain('the late table adds a column of that name');
  });

  it('refuses two source columns whose names differ only in case', () => {
    const problem = onlyProblem(edit('    - { name: status, type: string }', '    - { name: status, type: string }\n    - { name: Status, type: string }'));
    expect(problem).toMatchObject({ path: 'source.columns[7].name', line: 16, column: 15, found: '"Status"' });
    expect(problem.expected).toContain('a name that differs from the column "status" in more than case');
    expect(problem.expected).toContain('cannot tell "status" and "Status" apart');
  });

  it.each(['window', 'window_start', 'window_end', 'window_date', 'Window'])('refuses grouping by a column named %s, which every gold row has', (name) => {
    const text = edit('{ name: site, type: string }', `{ name: ${name}, type: string }`).replace('groupBy: [device_id]', `groupBy: [device_id, ${name}]`);
    const problem = onlyProblem(text);
    expect(problem).toMatchObject({ path: 'groupBy[1]', line: 19, column: 22, found: JSON.stringify(name) });
    expect(problem.expected).toContain(`a grouping column not named "${name.toLowerCase()}" in any case: every gold row has a column of that name`);
  });

  it('reports a source column named gold_batch once, at the column, even when it is grouped by', () => {
    const text = edit('{ name: site, type: string }', '{ name: gold_batch, type: long }').replace('groupBy: [device_id]', 'groupBy: [gold_batch]');
    expect(onlyProblem(text)).toMatchObject({ path: 'source.columns[2].name', found: '"gold_batch"' });
  });

  it('refuses aggregate names that clash, ignoring case, with a gold column, a grouping column or another aggregate', () => {
    expect(onlyProblem(edit('name: max_temperature', 'name: Window'))).toMatchObject({ path: 'aggregates[2].name', found: '"Window"' });
    expect(onlyProblem(edit('name: max_temperature', 'name: gold_batch')).expected).toContain('a name other than "gold_batch" in any case');
    expect(onlyProblem(edit('name: max_temperature', 'name: Device_ID')).expected).toBe('a name different from the groupBy column "device_id" in any case (both are gold columns)');
    const twice = onlyProblem(edit('name: max_temperature', 'name: Readings'));
    expect(twice).toMatchObject({ path: 'aggregates[2].name', line: 26, found: '"Readings"' });
    expect(twice.expected).toContain('a name that differs from the aggregate "readings" in more than case');
  });

  it('refuses __proto__ as a column or aggregate name', () => {
    expect(onlyProblem(edit('name: status,', 'name: __proto__,').replace('column: status', 'column: __proto__')).expected).toContain('which a row object cannot hold');
    expect(onlyProblem(edit('name: max_temperature', 'name: __proto__')).path).toBe('aggregates[2].name');
  });

  it('types the event time and event id columns as silver holds them when aggregates read them', () => {
    const times = literalSpec({
      columns: '    - { name: event_id, type: long }\n    - { name: event_time, type: long }\n    - { name: device, type: string }',
      eventTime: '{ column: event_time, format: epoch_seconds }',
      aggregates: '[{ name: first, fn: min, column: event_time }, { name: ids, fn: count_distinct, column: event_id }]',
    });
    expect(parseSpec(times, 'l.yaml').aggregates).toHaveLength(2);
    const sum = onlyProblem(literalSpec({ aggregates: '[{ name: total, fn: sum, column: event_time }]' }));
    expect(sum).toMatchObject({ path: 'aggregates[0].column', found: '"event_time", the event time, which silver holds as a timestamp' });
    const ids = literalSpec({
      columns: '    - { name: event_id, type: long }\n    - { name: event_time, type: string }\n    - { name: device, type: string }',
      aggregates: '[{ name: top, fn: max, column: event_id }]',
    });
    expect(onlyProblem(ids).found).toBe('"event_id", the event id, which silver holds as text');
  });

  it('lists name clashes with every other problem of the file, in file order', () => {
    const text = literalSpec({
      columns:
        '    - { name: id, type: string }\n    - { name: event_time, type: string }\n    - { name: device, type: string }\n    - { name: v, type: double }\n    - { name: V, type: double }\n    - { name: window, type: string }',
      eventTime: '{ column: event_time, format: "yyyy-MM-dd HH:mm:ss" }',
      eventId: '{ column: id }',
      groupBy: '[device, window]',
      aggregates: '[{ name: readings, fn: count }, { name: bad, fn: avg, column: device }]',
    }).replace('delay: 0s', 'delay: soon');
    expect(problemsOf(text).map((p) => `${p.line}:${p.column} ${p.path}`)).toEqual([
      '10:15 source.columns[4].name',
      '15:19 groupBy[1]',
      '17:75 aggregates[1].column',
      '18:21 watermark.delay',
    ]);
  });
});

describe('canonicalSpecJson', () => {
  it('is the same for specs that differ only in key order and formatting', () => {
    const reordered = `# same spec, other order
gold: { outputModes: [append, update], shards: 4 }
watermark:
  delay: 30000ms
aggregates:
  - { fn: count, name: readings }
  - { column: temperature, fn: avg, name: avg_temperature }
  - { column: temperature, name: max_temperature, fn: max }
  - { name: distinct_statuses, column: status, fn: count_distinct }
windows:
  - { size: 60s, type: tumbling, name: per_minute }
  - { slide: 1m, size: 5m, type: hopping, name: last_5m }
groupBy: [device_id]
partitionKey: device_id
eventId: { column: reading_id }
eventTime: { timeZone: UTC, column: ts }
source:
  columns:
    - { type: string, name: reading_id }
    - { name: device_id, type: string }
    - { name: site, type: string }
    - { name: ts, type: timestamp }
    - { name: temperature, nullable: true, type: double }
    - { name: humidity, type: double, nullable: false }
    - { name: status, type: string }
  name: sensors
name: sensor-readings
version: 1
`;
    expect(canonicalSpecJson(parseSpec(reordered, 'b.yaml'))).toBe(canonicalSpecJson(parseSpec(VALID, 'a.yaml')));
  });

  it('differs when the logic differs', () => {
    const other = parseSpec(edit('delay: 30s', 'delay: 45s'), 'c.yaml');
    expect(canonicalSpecJson(other)).not.toBe(canonicalSpecJson(parseSpec(VALID, 'a.yaml')));
  });

  it('sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: [3, { z: 1, a: 2 }], a: 'x', skipped: undefined })).toBe('{"a":"x","b":[3,{"a":2,"z":1}]}');
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(RangeError);
  });
});
