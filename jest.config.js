/** @type {import('jest').Config} */
module.exports = {
  projects: ['<rootDir>/apps/*/jest.config.js', '<rootDir>/libs/*/jest.config.js', '<rootDir>/deploy/jest.config.js', '<rootDir>/infra/jest.config.js'],
  // Generous: a test that hangs still fails, and a slow or busy machine does not fail the ones that do not.
  testTimeout: 120_000,
  // A worker per core (Jest's default leaves one out, which on 2 cores runs every suite in one
  // process, one after the other); a worker whose heap grew past 1 GB is replaced, so the suites that
  // force garbage collections to measure memory do not pay for the heaps the suites before left.
  maxWorkers: '100%',
  workerIdleMemoryLimit: '1GB',
};
