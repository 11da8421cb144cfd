'use strict';
/*
 * Entry point of the local plugin named in serverless.yml. The framework loads plugins with
 * require(), so this shim loads the TypeScript plugin through tsx's scoped require (no global hook).
 */
/* global require, module, __filename -- CommonJS, as the framework's plugin loader expects */
/* eslint-disable @typescript-eslint/no-require-imports -- same reason */
const { require: tsxRequire } = require('tsx/cjs/api');

module.exports = tsxRequire('./esm-plugin.ts', __filename).MappingSettingsPlugin;
