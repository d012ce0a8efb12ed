import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Tests start real daemons and child processes; two cores means at most two test files at a time.
export default defineConfig({
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
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
  },
});
