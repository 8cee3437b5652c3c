import { describeRejection, parseRejectedLogPath, REJECTED_RECORD_VERSION, rejectionRecordPath, rejectionsOf, restoreAdvice, type CaptureFileRejection } from './rejected-file';

const FILE = 'raw/ns/hub/0/2026/01/01/00/00/05.avro';

describe('the rejected-file log layout', () => {
  it('keeps each capture file’s records at its own path, by bronze batch', () => {
    expect(rejectionRecordPath(FILE, 7)).toBe(`rejected/${FILE}/00000000000000000007.json`);
    expect(rejectionRecordPath(FILE, 7, 'restored')).toBe(`rejected/${FILE}/00000000000000000007.restored.json`);
    expect(rejectionRecordPath(FILE, 7, 'taken')).toBe(`rejected/${FILE}/00000000000000000007.taken.json`);
    for (const kind of ['rejected', 'restored', 'taken'] as const) expect(parseRejectedLogPath(rejectionRecordPath(FILE, 7, kind))).toEqual({ path: FILE, bronzeBatch: 7, kind });
    expect(parseRejectedLogPath(`rejected/${FILE}/7.json`)).toBeUndefined();
    expect(parseRejectedLogPath(`other/${FILE}/00000000000000000007.json`)).toBeUndefined();
  });

  it('tells each rejection’s state from which records exist, whatever the listing order', () => {
    const other = 'raw/ns/hub/1/2026/01/01/00/00/06.avro';
    const paths = [
      rejectionRecordPath(FILE, 9),
      rejectionRecordPath(FILE, 3, 'taken'),
      rejectionRecordPath(other, 4, 'restored'),
      rejectionRecordPath(FILE, 3),
      rejectionRecordPath(other, 4),
      rejectionRecordPath(FILE, 3, 'restored'),
      // A restore without its rejection is not a rejection.
      rejectionRecordPath(other, 8, 'restored'),
    ];
    expect(rejectionsOf(paths).map((e) => [e.path, e.bronzeBatch, e.state])).toEqual([
      [FILE, 3, 'taken'],
      [FILE, 9, 'set-aside'],
      [other, 4, 'restored'],
    ]);
  });

  it('advises the restore command, and the bytes to put back when silver knows them', () => {
    expect(restoreAdvice({ path: FILE, reason: 'empty' })).toBe(
      `copy an intact copy of the file to ${FILE} (for Azure Capture: from a backup, or the blob's previous version or soft-deleted copy), then run \`pipeline rejected restore ${FILE}\`: bronze references it in its next batch and silver reads it after that, once.`,
    );
    expect(restoreAdvice({ path: FILE, reason: 'checksum', referenced: { rows: 3, bytes: 10, sha256: 'ab' } })).toContain(
      `put back the bytes bronze referenced (10 bytes, SHA-256 ab) or another intact copy of the file at ${FILE}, then run \`pipeline rejected restore ${FILE}\``,
    );
  });

  it('describes a rejection as sentences: the problem ends with a full stop before the advice, and only one', () => {
    const rejection = (problem: string): CaptureFileRejection => ({
      version: REJECTED_RECORD_VERSION,
      kind: 'rejected',
      path: FILE,
      partitionId: '0',
      stage: 'bronze',
      bronzeBatch: 4,
      reason: 'unreadable',
      problem,
      found: null,
    });
    expect(describeRejection(rejection('the file ends at byte 10 inside a block; the file is truncated'))).toContain('the file is truncated. To put it back: copy');
    expect(describeRejection(rejection('it has 0 bytes.'))).toContain(': it has 0 bytes. To put it back:');
  });
});
