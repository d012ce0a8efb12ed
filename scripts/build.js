// Bundles roq's programs with esbuild. Each program is one self-contained file in dist/, so a running daemon never
// picks up half-replaced modules from node_modules, and the CGI program starts by reading a single file.
// dist/ is CommonJS (dist/package.json says so) because the CGI program's name ends in .cgi, which Node runs only
// as CommonJS; Bun runs the same file.
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';

const programs = [
  { entry: 'src/cli/main.ts', out: 'dist/roq.js', shebang: true },
  { entry: 'src/server/worker.ts', out: 'dist/worker.js' },
  { entry: 'src/server/load-thread.ts', out: 'dist/load-thread.js' },
  { entry: 'src/cgi/main.ts', out: 'dist/roq.cgi', shebang: true, minify: true },
  { entry: 'src/demo/server.ts', out: 'dist/demo.js' },
  { entry: 'src/demo/cluster-main.ts', out: 'dist/cluster.js' },
  { entry: 'bench/main.ts', out: 'dist/bench.js' },
  { entry: 'bench/echo-daemon.ts', out: 'dist/echo-daemon.js' },
  // The benchmarks' baselines: what a user would run instead of roq (see bench/).
  { entry: 'bench/naive-cgi.ts', out: 'dist/naive.cgi', shebang: true },
  { entry: 'bench/sqlite-cgi.ts', out: 'dist/sqlite.cgi', shebang: true },
  { entry: 'bench/fuzz-main.ts', out: 'dist/fuzz.js' },
  { entry: 'bench/soak.ts', out: 'dist/soak.js' },
];

const only = process.argv.slice(2);
const version = JSON.parse(readFileSync('package.json', 'utf8')).version;
mkdirSync('dist', { recursive: true });
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');
await Promise.all(
  programs
    .filter((p) => existsSync(p.entry) && (only.length === 0 || only.some((o) => p.out.includes(o))))
    .map(async (p) => {
      await build({
        entryPoints: [p.entry],
        outfile: p.out,
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        minify: p.minify ?? false,
        sourcemap: false,
        legalComments: 'none',
        // better-sqlite3 is a native addon, required from node_modules by the SQLite baseline only.
        external: ['bun:ffi', 'better-sqlite3'],
        define: { ROQ_VERSION: JSON.stringify(version) },
        loader: { '.html': 'text' },
        banner: p.shebang ? { js: '#!/usr/bin/env node' } : undefined,
        logLevel: 'warning',
      });
      if (p.shebang) chmodSync(p.out, 0o755);
    }),
);

// The deployed CGI program: the same source compiled by Bun into one executable with the program's bytecode in
// it, so a web request pays neither for parsing JavaScript nor for finding a runtime (measured: 8.6 ms a request
// against 14.5 ms for `bun dist/roq.cgi` and 6.3 ms for an empty Bun process). Skipped when Bun is not installed.
const bun = 'node_modules/bun/bin/bun.exe';
if (existsSync(bun) && (only.length === 0 || only.some((o) => 'dist/roq-cgi'.includes(o)))) {
  const r = spawnSync(bun, ['build', 'src/cgi/main.ts', '--compile', '--bytecode', '--minify', '--target=bun', '--loader', '.html:text', '--outfile', 'dist/roq-cgi'], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`bun build --compile failed:\n${r.stdout}${r.stderr}`);
    process.exit(1);
  }
}
