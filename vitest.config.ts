import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests start real daemons and child processes; two cores means at most two test files at a time.
export default defineConfig({
  // The default app's query functions (queries/, templates/*.ts) import roq's modules as `roq/…`, as every app's
  // do; the bundler resolves that in scripts/build.js, and tsconfig.json's paths for the type checker.
  resolve: { alias: [{ find: /^roq\//, replacement: fileURLToPath(new URL('./src/', import.meta.url)) }] },
  plugins: [
    {
      // The bundle imports templates/*.html as a string (esbuild's text loader); tests that import the CGI handler
      // in process need the same, or Vite would parse the page as a module.
      name: 'html-as-text',
      enforce: 'pre',
      load(id) {
        if (!id.endsWith('.html')) return null;
        return `export default ${JSON.stringify(readFileSync(id, 'utf8'))};`;
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts'],
    // Deadlines against hangs only, generous enough for a 2-core machine at load 30 (several suites at once), where
    // a test that takes 5 s alone can take a minute.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Closing the workers waits for them to end; on a machine at load 10 or more that takes longer than 10 s.
    teardownTimeout: 60_000,
    // A worker that blocks its event loop for a minute (spawnSync, execFileSync of a long program, a long
    // synchronous loop) misses Vitest's fixed 60 s RPC deadline and the run fails with "Timeout calling
    // onTaskUpdate" after every test passed: tests run long programs with the asynchronous helpers/run.ts.
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
  },
});
