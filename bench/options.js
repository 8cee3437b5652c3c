'use strict';
/** The options every benchmark takes: `--rows N` and `--keep` (keep the working folder). */
function benchOptions(argv, defaultRows) {
  const i = argv.indexOf('--rows');
  const raw = i >= 0 ? argv[i + 1] : String(defaultRows);
  const rows = Number(raw);
  if (!Number.isInteger(rows) || rows < 1) {
    process.stderr.write(`--rows must be a positive whole number, got ${JSON.stringify(raw)}; e.g. --rows ${defaultRows}\n`);
    process.exit(2);
  }
  return { rows, keep: argv.includes('--keep') };
}

module.exports = { benchOptions };
