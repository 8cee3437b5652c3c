import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const nodeBuiltinsWithIo = ['fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'child_process', 'node:child_process', 'net', 'node:net', 'http', 'node:http'];

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    ignores: [
      '**/dist',
      '**/node_modules',
      '**/.nx',
      'coverage',
      'tmp',
      '.pipeline',
      'bin/**',
      'bench/**/*.js',
      '**/jest.config.js',
      'jest.preset.js',
      'jest.setup.js',
      'jest.config.js',
    ],
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            {
              sourceTag: 'scope:engine',
              onlyDependOnLibsWithTags: [],
              bannedExternalImports: ['@nestjs/*', '@azure/*', 'better-sqlite3', 'pino', '@opentelemetry/*', ...nodeBuiltinsWithIo],
            },
            {
              sourceTag: 'scope:contracts',
              onlyDependOnLibsWithTags: ['scope:engine'],
              bannedExternalImports: ['@nestjs/*', '@azure/*', 'better-sqlite3', ...nodeBuiltinsWithIo],
            },
            {
              sourceTag: 'scope:transform',
              onlyDependOnLibsWithTags: ['scope:engine', 'scope:contracts'],
              bannedExternalImports: ['@nestjs/*', '@azure/*', 'better-sqlite3', 'pino', '@opentelemetry/*', ...nodeBuiltinsWithIo],
            },
            { sourceTag: 'scope:ports', onlyDependOnLibsWithTags: ['scope:engine', 'scope:contracts'], bannedExternalImports: ['@nestjs/*', '@azure/*'] },
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:engine', 'scope:contracts', 'scope:transform', 'scope:ports', 'scope:shared'] },
            { sourceTag: 'scope:adapters', onlyDependOnLibsWithTags: ['scope:engine', 'scope:contracts', 'scope:transform', 'scope:ports', 'scope:shared'] },
            { sourceTag: 'scope:testing', onlyDependOnLibsWithTags: ['scope:engine', 'scope:contracts', 'scope:transform', 'scope:ports', 'scope:shared', 'scope:adapters'] },
            {
              sourceTag: 'type:app',
              onlyDependOnLibsWithTags: ['scope:engine', 'scope:contracts', 'scope:transform', 'scope:ports', 'scope:shared', 'scope:adapters', 'scope:testing'],
            },
            // Deployment checks read the apps' configuration code and the files that ship them.
            { sourceTag: 'type:deploy', onlyDependOnLibsWithTags: ['*'] },
          ],
        },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: [{ group: ['../../*', '../../../*'], message: 'Import other projects through their @pipeline/* alias.' }] }],
    },
  },
  {
    // The engine is pure (DESIGN invariant 7): Nx bans packages above; Node's I/O modules are banned here.
    files: ['libs/engine/**/*.ts', 'libs/contracts/**/*.ts', 'libs/transform/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltinsWithIo.map((name) => ({ name, message: 'The engine and contracts do no I/O: take data in, give data out, and let adapters read and write.' })),
          patterns: [{ group: ['../../*', '../../../*'], message: 'Import other projects through their @pipeline/* alias.' }],
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts'],
    rules: {
      // Specs of any project may use the shared contract suites and test helpers.
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          depConstraints: [
            { sourceTag: 'scope:engine', onlyDependOnLibsWithTags: ['scope:testing', 'scope:engine'] },
            { sourceTag: '*', onlyDependOnLibsWithTags: ['*'] },
          ],
        },
      ],
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.object.name=/^(it|describe|test)$/][callee.property.name='only']", message: 'No focused tests.' }],
    },
  },
];
