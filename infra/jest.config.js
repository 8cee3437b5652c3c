const { projectJestConfig } = require('../jest.preset');

module.exports = projectJestConfig('infra', 'infra');
