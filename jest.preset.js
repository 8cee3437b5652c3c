// @ts-check
const path = require('node:path');

const root = __dirname;

/** hyparquet(-writer): Parquet; content-disposition: required by @fastify/static for Swagger UI's assets; jose: the serving API's JWT verification. */
const ESM_ONLY = ['hyparquet', 'hyparquet-writer', 'content-disposition', 'jose'];

/**
 * Shared by every project: SWC with decorator metadata (NestJS DI), `@pipeline/*` aliases to sources.
 * @param {string} projectRoot
 * @param {string} displayName
 * @returns {import('jest').Config}
 */
function projectJestConfig(projectRoot, displayName) {
  return {
    displayName,
    rootDir: path.join(root, projectRoot),
    testEnvironment: 'node',
    testMatch: ['<rootDir>/**/*.spec.ts'],
    transform: {
      // Packages that ship only ES modules; Jest's CommonJS runtime needs them transformed.
      [`^.+/node_modules/(${ESM_ONLY.join('|')})/.+\\.js$`]: ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
      '^.+\\.ts$': [
        '@swc/jest',
        {
          jsc: {
            parser: { syntax: 'typescript', decorators: true },
            transform: { legacyDecorator: true, decoratorMetadata: true },
            target: 'es2022',
          },
          module: { type: 'commonjs' },
          sourceMaps: 'inline',
        },
      ],
    },
    transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
    moduleFileExtensions: ['ts', 'js', 'json'],
    moduleNameMapper: {
      '^@pipeline/([a-z-]+)$': path.join(root, 'libs/$1/src/index.ts'),
    },
    setupFiles: [path.join(root, 'jest.setup.js')],
  };
}

module.exports = { projectJestConfig };
