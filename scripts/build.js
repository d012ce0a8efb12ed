// Bundles roq's programs with esbuild. Each program is one self-contained file in dist/, so a running daemon never
// picks up half-replaced modules from node_modules, and the Node CGI program starts by reading a single file.
// dist/ is CommonJS (dist/package.json says so) because the CGI program's name ends in .cgi, which Node runs only
// as CommonJS.
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const programs = [
  { entry: 'src/cli/main.ts', out: 'dist/roq.js', shebang: true },
  { entry: 'src/daemon/worker.ts', out: 'dist/worker.js' },
  { entry: 'src/load/load-thread.ts', out: 'dist/load-thread.js' },
  { entry: 'src/relay/main.ts', out: 'dist/roq.cgi', shebang: true, minify: true },
  { entry: 'tools/demo/server.ts', out: 'dist/demo.js' },
  { entry: 'tools/demo/cluster-main.ts', out: 'dist/cluster.js' },
  { entry: 'bench/main.ts', out: 'dist/bench.js' },
  { entry: 'bench/echo-daemon.ts', out: 'dist/echo-daemon.js' },
  // The benchmarks' baselines: what a user would run instead of roq (see bench/).
  { entry: 'bench/naive-cgi.ts', out: 'dist/naive.cgi', shebang: true },
  { entry: 'bench/sqlite-cgi.ts', out: 'dist/sqlite.cgi', shebang: true },
  { entry: 'bench/fuzz-main.ts', out: 'dist/fuzz.js' },
  { entry: 'bench/soak.ts', out: 'dist/soak.js' },
  // The test build: the daemon with its fault-injection queries (ROQ_TEST_FAULTS=1, worker.ts) compiled in, for
  // the tests and the soak only. Every other bundle, and so a release, is built without them.
  { entry: 'src/cli/main.ts', out: 'dist/test/roq.js', shebang: true, testBuild: true },
  { entry: 'src/daemon/worker.ts', out: 'dist/test/worker.js', testBuild: true },
  { entry: 'src/load/load-thread.ts', out: 'dist/test/load-thread.js', testBuild: true },
];

// `node scripts/build.js --app DIR` builds an app instead (see buildApp below); run from anywhere.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const appAt = process.argv.indexOf('--app');
const app = appAt > 0 ? resolve(process.argv[appAt + 1] ?? '.') : undefined;
process.chdir(ROOT);
const only = appAt > 0 ? [] : process.argv.slice(2);
const version = JSON.parse(readFileSync('package.json', 'utf8')).version;
/** The commit built, as `roq --version` and `roq status` name it: '' outside a git checkout, `-dirty` with changes. */
function builtCommit() {
  const git = (...args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  const head = git('rev-parse', '--short=7', 'HEAD');
  if (head.status !== 0) return '';
  return head.stdout.trim() + (git('status', '--porcelain', '--untracked-files=no').stdout.trim() ? '-dirty' : '');
}
const commit = builtCommit();

/** esbuild options shared by every program, roq's own and an app's. */
function bundleOptions(p, outfile, plugins = [], define = {}) {
  return {
    entryPoints: [p.entry],
    // esbuild takes its working directory when it is loaded, before the chdir above: name it, or an app built from
    // a shell outside the checkout would resolve 'src/…' against the user's directory.
    absWorkingDir: ROOT,
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: p.minify ?? false,
    sourcemap: false,
    legalComments: 'none',
    // better-sqlite3 is a native addon, required from node_modules by the SQLite baseline only.
    external: ['better-sqlite3'],
    define: {
      ROQ_VERSION: JSON.stringify(version),
      ROQ_COMMIT: JSON.stringify(commit),
      ROQ_TEST_BUILD: String(p.testBuild === true),
      ...define,
    },
    loader: { '.html': 'text' },
    banner: p.shebang ? { js: '#!/usr/bin/env node' } : undefined,
    logLevel: 'warning',
    plugins,
  };
}

if (app) {
  await buildApp(app);
  process.exit(0);
}
// roq's own programs are built for the default app, the project root: its code is generated into .roq/generated/
// first, as every app's is.
await generateApp(ROOT);
mkdirSync('dist', { recursive: true });
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');
const wanted = (out) => only.length === 0 || only.some((o) => out.includes(o));
await Promise.all(
  programs
    .filter((p) => existsSync(p.entry) && wanted(p.out))
    .map(async (p) => {
      await build(bundleOptions(p, p.out, [appPlugin(ROOT)]));
      if (p.shebang) chmodSync(p.out, 0o755);
    }),
);

if (wanted('dist/roq-relay')) compileRelay('dist/roq-relay');

/**
 * The per-request web program: src/relay/relay.c compiled by the system's C compiler, warnings as errors, stripped
 * (a few tens of kB, the same for every app: it carries no app code). The flags live in scripts/relay-cflags.json,
 * which the tests' sanitizer build and the bench read too.
 */
function compileRelay(outfile) {
  const flags = JSON.parse(readFileSync(join(ROOT, 'scripts/relay-cflags.json'), 'utf8'));
  const r = spawnSync(process.env.CC || 'cc', [...flags, '-s', '-o', outfile, 'src/relay/relay.c'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    console.error(`cc src/relay/relay.c failed:\n${r.error?.message ?? ''}${r.stdout ?? ''}${r.stderr ?? ''}`);
    process.exit(1);
  }
}

/**
 * Codegen for the app in `dir` (the project root for roq's own programs): DIR/schemas/, app.json, app.ts and
 * templates/ → DIR/.roq/generated/. Exits with codegen's complaint when the app's schemas are wrong.
 */
async function generateApp(dir) {
  const out = join(dir, '.roq');
  mkdirSync(out, { recursive: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: ['codegen/main.ts'],
    outfile: join(out, 'codegen.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
  });
  const gen = spawnSync(process.execPath, [join(out, 'codegen.mjs'), '--app', dir], { encoding: 'utf8' });
  process.stderr.write(gen.stderr);
  if (gen.status !== 0) process.exit(1);
}

/**
 * How a program is bundled for the app in `dir`: roq's src/app/ links resolve to the app's generated files
 * (DIR/.roq/generated/), and the `roq/…` imports of generated code, query functions and page modules to roq's
 * src/. Nothing else differs between apps: the engine is the same code for every one.
 */
function appPlugin(dir) {
  const src = join(ROOT, 'src');
  const generated = join(dir, '.roq', 'generated');
  return {
    name: 'roq-app',
    setup(b) {
      b.onResolve({ filter: /\/app\/[a-z]+\.js$/ }, (args) =>
        args.importer.startsWith(src + '/') && resolve(args.resolveDir, args.path).startsWith(join(src, 'app') + '/')
          ? { path: join(generated, basename(args.path).replace(/\.js$/, '.ts')) }
          : undefined,
      );
      b.onResolve({ filter: /^roq\// }, (args) => ({ path: join(src, args.path.slice(4)).replace(/\.js$/, '.ts') }));
    },
  };
}

/**
 * An app's build: codegen from DIR/ into DIR/.roq/generated/, then roq's daemon, worker, load thread and Node CGI
 * program bundled for it (appPlugin) into DIR/.roq/dist/. The app's pages are rendered by its daemon's workers, so
 * the relay is the same for every app. Nothing outside DIR/.roq/ is written: roq's sources are only read.
 */
async function buildApp(dir) {
  const out = join(dir, '.roq');
  if (!existsSync(join(dir, 'schemas'))) {
    console.error(`roq build: ${dir} is not an app: it has no schemas/ directory (make one with \`roq init\`)`);
    process.exit(1);
  }
  await generateApp(dir);
  mkdirSync(join(out, 'dist'), { recursive: true });
  const appPrograms = programs.filter((p) => /^dist\/(roq\.js|worker\.js|load-thread\.js|roq\.cgi)$/.test(p.out));
  writeFileSync(join(out, 'dist/package.json'), '{ "type": "commonjs" }\n');
  await Promise.all(
    appPrograms.map(async (p) => {
      const file = join(out, p.out);
      await build(bundleOptions(p, file, [appPlugin(dir)], { ROQ_HOME: JSON.stringify(ROOT) }));
      if (p.shebang) chmodSync(file, 0o755);
    }),
  );
  // For type-checking the app's query functions and page modules against its generated types (roq build does).
  const src = join(ROOT, 'src');
  const tsconfig = {
    extends: join(ROOT, 'tsconfig.json'),
    compilerOptions: { paths: { 'roq/*': [join(src, '*')] }, typeRoots: [join(ROOT, 'node_modules/@types')] },
    include: [
      join(dir, 'queries/**/*.ts'),
      join(dir, 'templates/*.ts'),
      join(dir, 'app.ts'),
      join(out, 'generated/*.ts'),
      join(src, 'types.d.ts'),
    ],
  };
  writeFileSync(join(out, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2) + '\n');
}
