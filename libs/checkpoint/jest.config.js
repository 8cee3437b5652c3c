const { projectJestConfig } = require('../../jest.preset');

module.exports = projectJestConfig('libs/checkpoint', 'checkpoint');
