const { projectJestConfig } = require('../../jest.preset');

module.exports = projectJestConfig('apps/serving-api', 'serving-api');
