import { statusLine, statusSample, type StatusView } from './status-sample';

function status(
  overrides: { events?: number; bronze?: number; silverRecords?: number; silverRows?: number; goldRows?: number; late?: number; deadLetters?: number | null } = {},
): StatusView {
  return {
    capture: { files: 3, events: overrides.events ?? 100 },
    bronze: { records: overrides.bronze ?? 90, position: 4 },
    silver: { records: overrides.silverRecords ?? 80, rows: overrides.silverRows ?? 70, quarantined: 6, duplicates: 4, position: 2, rate: { perSecond: 812.4 } },
    gold: {
      rows: overrides.goldRows ?? 60,
      lateRows: overrides.late ?? 3,
      shards: [
        { shard: 0, batch: 5, watermarkMs: Date.parse('2026-01-01T12:00:30Z'), lagMs: 1_500, rows: 40, lateRows: 2, holdingPartition: '2' },
        { shard: 1, batch: 0, watermarkMs: null, lagMs: null, rows: 20, lateRows: 1, holdingPartition: null },
      ],
    },
    rejected: { setAside: 1, restored: 0 },
    deadLetters: { total: overrides.deadLetters === undefined ? 0 : overrides.deadLetters },
  };
}

describe('statusSample', () => {
  it('takes every count the live views show from the status answer', () => {
    const sample = statusSample(status(), 1_000);
    expect(sample).toMatchObject({
      at: 1_000,
      capture: { files: 3, events: 100 },
      bronze: { records: 90, batch: 4 },
      silver: { records: 80, rows: 70, quarantined: 6, duplicates: 4, batch: 2, rowsPerSecond: 812.4 },
      gold: { rows: 60, lateRows: 3 },
      rejected: { setAside: 1, restored: 0 },
      deadLetters: 0,
    });
    expect(statusSample(status({ deadLetters: null }), 1_000).deadLetters).toBeNull();
    expect(sample.gold.shards[0]).toEqual({ shard: 0, batch: 5, watermarkMs: Date.parse('2026-01-01T12:00:30Z'), lagMs: 1_500, rows: 40, lateRows: 2, holdingPartition: '2' });
  });

  it('has no rates for the first sample', () => {
    expect(statusSample(status(), 1_000).rates).toEqual({ captured: null, bronze: null, silver: null, silverRows: null, gold: null });
  });

  it('gives each layer its rate per second since the previous sample, gold counting late rows as processed', () => {
    const first = statusSample(status(), 1_000);
    const second = statusSample(status({ events: 300, bronze: 190, silverRecords: 130, silverRows: 110, goldRows: 80, late: 5 }), 3_000, first);
    expect(second.rates).toEqual({ captured: 100, bronze: 50, silver: 25, silverRows: 20, gold: 11 });
  });

  it('gives no rate for a count that went down (a reset), and none when the clock did not move', () => {
    const first = statusSample(status({ events: 300 }), 1_000);
    expect(statusSample(status({ events: 10 }), 2_000, first).rates.captured).toBeNull();
    expect(statusSample(status({ events: 400 }), 1_000, first).rates.captured).toBeNull();
  });
});

describe('statusLine', () => {
  it('prints every layer, the silver rate and each shard watermark with the partition holding it back', () => {
    expect(statusLine(statusSample(status(), 0))).toBe(
      'captured 100 | bronze 90 | silver 70 + 6 quarantined + 4 dup (812 rows/s) | gold 60 rows, 3 late, watermarks 12:00:30@p2 -',
    );
  });

  it('says so when no gold shard has reported yet, rather than an empty list of watermarks', () => {
    const view = status();
    view.gold.shards = [];
    expect(statusLine(statusSample(view, 0))).toMatch(/ \| gold 60 rows, 3 late, no shard has a watermark yet$/);
  });

  it('adds the dead letters only when the bus holds some', () => {
    expect(statusLine(statusSample(status({ deadLetters: 3 }), 0))).toMatch(/ \| 3 dead letters$/);
    expect(statusLine(statusSample(status({ deadLetters: null }), 0))).not.toContain('dead letters');
  });
});
