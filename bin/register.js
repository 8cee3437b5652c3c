'use strict';
// Resolves the `@pipeline/<lib>` aliases of tsconfig.base.json to the compiled libraries in dist/.
const Module = require('node:module');
const path = require('node:path');

const libs = path.resolve(__dirname, '..', 'dist', 'libs');
const ALIAS = /^@pipeline\/([a-z][a-z0-9-]*)$/;
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, isMain, options) {
  const m = ALIAS.exec(request);
  if (m) return resolve.call(this, path.join(libs, m[1], 'src', 'index.js'), parent, isMain, options);
  return resolve.call(this, request, parent, isMain, options);
};
