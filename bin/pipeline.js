#!/usr/bin/env node
'use strict';
// The `pipeline` command: runs the compiled CLI from dist/ (build it with `npm run build`).
const path = require('node:path');
const fs = require('node:fs');

const root = path.resolve(__dirname, '..');
const entry = path.join(root, 'dist', 'apps', 'cli', 'src', 'entry.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('pipeline: not built yet. Run `npm run build` in ' + root + ' first (npm start does it for you).\n');
  process.exit(2);
}
require('./register');
// Output piped into a reader that stops early (`pipeline … --help | head`) is not an error.
process.stdout.on('error', (error) => {
  if (error && error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
// Once the command has ended, the process ends: should something it opened still hold it (a
// socket, a server) well after, it is left behind, saying so, rather than holding the process unseen.
const LINGER_MS = 10_000;
function endWithin(code) {
  setTimeout(() => {
    process.stderr.write(`pipeline: the command ended (exit code ${code}), but something it opened still held the process ${LINGER_MS / 1000} s later; exiting.\n`);
    process.exit(code);
  }, LINGER_MS).unref();
}
require(entry)
  .main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
      endWithin(code);
    },
    (error) => {
      process.stderr.write((error && error.stack) || String(error));
      process.stderr.write('\n');
      process.exitCode = 1;
      endWithin(1);
    },
  );
