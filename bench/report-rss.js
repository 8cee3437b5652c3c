'use strict';
// Preloaded by the benchmark (node -r): writes the process's peak resident memory when it exits.
const fs = require('node:fs');

const target = process.env.BENCH_RSS_FILE;
if (target) {
  process.on('exit', () => {
    fs.writeFileSync(target, String(process.resourceUsage().maxRSS * 1024));
  });
}
