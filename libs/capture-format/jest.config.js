const { projectJestConfig } = require('../../jest.preset');

module.exports = projectJestConfig('libs/capture-format', 'capture-format');
