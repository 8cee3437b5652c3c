const { projectJestConfig } = require('../../jest.preset');

module.exports = projectJestConfig('apps/cli', 'cli');
