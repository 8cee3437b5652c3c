#!/usr/bin/env node
'use strict';
/**
 * The build's second step (`npm run build`: `tsc -b`, then this): copies the files that are not
 * TypeScript and that the compiled code reads at run time — every `assets/` folder under
 * apps/<app>/src and libs/<lib>/src — to the same place under dist/, so dist is complete for
 * `bin/pipeline.js` and for deploy/app-package.js (which copies dist/apps/<app> into the image).
 * A copy replaces what was there: a file deleted from the sources disappears from dist too.
 *
 * Run from anywhere: `node deploy/copy-assets.js`.
 */
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

/** Workspace-relative `assets` folders under the projects' `src`, sorted. */
function assetFolders(root = ROOT) {
  const found = [];
  const walk = (relative) => {
    for (const entry of fs.readdirSync(path.join(root, relative), { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === 'node_modules') continue;
      const child = `${relative}/${entry.name}`;
      if (entry.name === 'assets') found.push(child);
      else walk(child);
    }
  };
  for (const kind of ['apps', 'libs']) {
    if (!fs.existsSync(path.join(root, kind))) continue;
    for (const project of fs.readdirSync(path.join(root, kind)).sort()) {
      if (fs.existsSync(path.join(root, kind, project, 'src'))) walk(`${kind}/${project}/src`);
    }
  }
  return found.sort();
}

function copyAssets(root = ROOT) {
  const folders = assetFolders(root);
  for (const folder of folders) {
    const target = path.join(root, 'dist', folder);
    fs.rmSync(target, { recursive: true, force: true });
    fs.cpSync(path.join(root, folder), target, { recursive: true });
  }
  return folders;
}

if (require.main === module) {
  try {
    copyAssets();
  } catch (error) {
    process.stderr.write(`copy-assets: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}

module.exports = { assetFolders, copyAssets };
