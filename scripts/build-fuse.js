#!/usr/bin/env node
// Builds fuse-native from its (patched) source, so that the binary carries patches/fuse-native*.patch.
// node-gyp-build loads build/Release before the published prebuilds, so the patched build wins.
'use strict'
const { execFileSync } = require('child_process')
const path = require('path')

const nodeGyp = process.env.npm_config_node_gyp ||
  path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
const fuseDir = path.dirname(require.resolve('fuse-native/package.json'))

execFileSync(process.execPath, [nodeGyp, 'rebuild', '--loglevel=error'], { cwd: fuseDir, stdio: ['ignore', 'ignore', 'inherit'] })
console.log('procstat: built patched fuse-native in ' + path.join(fuseDir, 'build', 'Release'))
