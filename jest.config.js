/** @type {import('jest').Config} */
module.exports = {
  projects: ['<rootDir>/apps/*/jest.config.js', '<rootDir>/libs/*/jest.config.js', '<rootDir>/deploy/jest.config.js', '<rootDir>/infra/jest.config.js'],
  testTimeout: 30_000,
};
