import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 ships an ESM and a CommonJS build; Vite would pick the ESM one while type-graphql
    // requires the CommonJS one, and graphql-js refuses to run with two copies ("Duplicate graphql modules").
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Tests that start the gateway as a child process run dist/: build it once, before any of them.
    globalSetup: ['./test/helpers/build-once.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
