// Types of the ESM entry (esm/index.mjs): the same as the CommonJS entry's.
export * from '../dist/src/index.js';
