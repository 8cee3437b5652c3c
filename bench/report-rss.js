'use strict';
// Preloaded by the benchmark (node -r, or NODE_OPTIONS for every service `pipeline start` launches):
// writes the process's peak resident memory when it exits, to BENCH_RSS_FILE, or to a file named
// after the pipeline command (produce, capture, …) and the pid in BENCH_RSS_DIR, and there beside it
// (`.cpu`) the CPU time it used, user and system, in microseconds.
const fs = require('node:fs');
const path = require('node:path');

const file = process.env.BENCH_RSS_FILE;
const dir = process.env.BENCH_RSS_DIR;
const command = process.argv.slice(2).find((a) => !a.startsWith('-')) ?? 'node';
const target = file ?? (dir ? path.join(dir, `${command}.${process.pid}.rss`) : undefined);
if (target) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    fs.writeFileSync(target, String(usage.maxRSS * 1024));
    if (!file) fs.writeFileSync(target.replace(/\.rss$/, '.cpu'), String(usage.userCPUTime + usage.systemCPUTime));
  });
}
