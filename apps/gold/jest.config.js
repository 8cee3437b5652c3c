const { projectJestConfig } = require('../../jest.preset');

module.exports = projectJestConfig('apps/gold', 'gold');
