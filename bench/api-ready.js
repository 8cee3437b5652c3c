'use strict';
/** Waits until a serving API started by a bench answers its readiness probe; throws after `timeoutMs`. */
async function untilApiReady(base, timeoutMs = 30_000) {
  const started = Date.now();
  for (;;) {
    try {
      if ((await fetch(`${base}/health/ready`)).ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() - started > timeoutMs) throw new Error(`the serving API at ${base} was not ready after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

module.exports = { untilApiReady };
