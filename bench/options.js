'use strict';
const fs = require('node:fs');
const path = require('node:path');

/**
 * `--help` (or `-h`) in `argv`: prints the usage of the benchmark in `file` (its header comment, which
 * says what it measures and its options) and exits.
 */
function exitOnHelp(argv, file) {
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  const header = /\/\*\*([\s\S]*?)\*\//.exec(fs.readFileSync(file, 'utf8'));
  const text = header
    ? header[1]
        .split('\n')
        .map((line) => line.replace(/^\s*\* ?/, ''))
        .join('\n')
        .trim()
    : '';
  process.stdout.write(`Usage: node bench/${path.basename(file)} [options]\n\n${text}\n`);
  process.exit(0);
}

/** The options every benchmark takes: `--rows N` and `--keep` (keep the working folder); `--help` prints the caller's usage. */
function benchOptions(argv, defaultRows, file = require.main?.filename) {
  if (file) exitOnHelp(argv, file);
  const i = argv.indexOf('--rows');
  const raw = i >= 0 ? argv[i + 1] : String(defaultRows);
  const rows = Number(raw);
  if (!Number.isInteger(rows) || rows < 1) {
    process.stderr.write(`--rows must be a positive whole number, got ${JSON.stringify(raw)}; e.g. --rows ${defaultRows}\n`);
    process.exit(2);
  }
  return { rows, keep: argv.includes('--keep') };
}

module.exports = { benchOptions, exitOnHelp };
