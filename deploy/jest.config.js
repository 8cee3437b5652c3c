const { projectJestConfig } = require('../jest.preset');

module.exports = projectJestConfig('deploy', 'deploy');
