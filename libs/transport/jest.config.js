const { projectJestConfig } = require('../../jest.preset');

module.exports = projectJestConfig('libs/transport', 'transport');
