// Bundles roq's programs with esbuild. Each program is one self-contained file in dist/, so a running daemon never
// picks up half-replaced modules from node_modules, and the CGI program starts by reading a single file.
// dist/ is CommonJS (dist/package.json says so) because the CGI program's name ends in .cgi, which Node runs only
// as CommonJS; Bun runs the same file.
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const programs = [
  { entry: 'src/cli/main.ts', out: 'dist/roq.js', shebang: true },
  { entry: 'src/daemon/worker.ts', out: 'dist/worker.js' },
  { entry: 'src/load/load-thread.ts', out: 'dist/load-thread.js' },
  { entry: 'src/cgi/main.ts', out: 'dist/roq.cgi', shebang: true, minify: true },
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
const bun = 'node_modules/bun/bin/bun.exe';
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
    external: ['bun:ffi', 'better-sqlite3'],
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
mkdirSync('dist', { recursive: true });
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');
const wanted = (out) => only.length === 0 || only.some((o) => out.includes(o));
await Promise.all(
  programs
    // dist/roq-cgi is compiled from dist/roq.cgi (below), so asking for the one builds the other.
    .filter((p) => existsSync(p.entry) && (wanted(p.out) || (p.out === 'dist/roq.cgi' && wanted('dist/roq-cgi'))))
    .map(async (p) => {
      await build(bundleOptions(p, p.out));
      if (p.shebang) chmodSync(p.out, 0o755);
    }),
);

// The deployed CGI program: the bundle compiled by Bun into one executable with the program's bytecode in it, so
// a web request pays neither for parsing JavaScript nor for finding a runtime (measured: 8.6 ms a request against
// 14.5 ms for `bun dist/roq.cgi` and 6.3 ms for an empty Bun process). Compiled from esbuild's bundle, as an app's
// is, not from src/cgi/main.ts: Bun's own bundler embeds each templates/*.html as a file of the executable and
// loads it through its module loader when the page module is initialized, ~0.2–0.3 ms of every request (the JSON
// ones too), where esbuild's text loader makes it a string in the bundle. Skipped when Bun is not installed.
if (existsSync(bun) && wanted('dist/roq-cgi')) compileCgi('dist/roq.cgi', 'dist/roq-cgi');

/**
 * The flags of every CGI executable, roq's and the bench's hello-world alike (bench/web.ts reads the same file).
 * Beyond bytecode and minification: no .env or bunfig.toml read from the working directory (the web server's
 * cgi-bin: it must not configure the program, and looking costs ~2 ms a request where a parent directory is large),
 * and JIT thresholds ×100 (code that runs once stays in the interpreter instead of compiling on another core).
 */
function compileCgi(entry, outfile) {
  const flags = JSON.parse(readFileSync(join(ROOT, 'scripts/cgi-compile-flags.json'), 'utf8'));
  // `.cgi:js`: an app's entry is the bundled dist/roq.cgi, which Bun would otherwise embed as a file, not run.
  // Run in the output's directory: Bun writes a temporary `.….bun-build` file into its working directory, which
  // must not appear in the checkout (or the app's directory) while an app is being built.
  const r = spawnSync(
    resolve(bun),
    ['build', resolve(entry), ...flags, '--loader', '.html:text', '--loader', '.cgi:js', '--outfile', resolve(outfile)],
    { encoding: 'utf8', cwd: dirname(resolve(outfile)) },
  );
  if (r.status !== 0) {
    console.error(`bun build --compile failed:\n${r.stdout}${r.stderr}`);
    process.exit(1);
  }
}

/**
 * An app's build: codegen from DIR/schemas/ into DIR/.roq/generated/, then roq's daemon, worker, load thread and
 * CGI program bundled against those generated files and DIR/queries/ into DIR/.roq/dist/, and the CGI program
 * compiled by Bun. Nothing outside DIR/.roq/ is written: roq's sources are only read. The bundler swaps roq's
 * src/generated/ for the app's, and resolves the `roq/…` imports of generated code and of the app's query
 * functions to roq's src/.
 */
function appTemplatesModule(dir) {
  const templates = {};
  const tdir = join(dir, 'templates');
  for (const f of existsSync(tdir) ? readdirSync(tdir).sort() : []) {
    if (f.endsWith('.html')) templates[f.slice(0, -5)] = readFileSync(join(tdir, f), 'utf8');
  }
  const meta = existsSync(join(dir, 'app.json')) ? JSON.parse(readFileSync(join(dir, 'app.json'), 'utf8')) : {};
  const title = typeof meta.title === 'string' ? meta.title : basename(dir);
  return `export const APP_TEMPLATES = ${JSON.stringify(templates)};\nexport const BOARD_QUERIES = [];\nexport const APP_TITLE = ${JSON.stringify(title)};\n`;
}

async function buildApp(dir) {
  const out = join(dir, '.roq');
  if (!existsSync(join(dir, 'schemas'))) {
    console.error(`roq build: ${dir} is not an app: it has no schemas/ directory (make one with \`roq init\`)`);
    process.exit(1);
  }
  mkdirSync(join(out, 'dist'), { recursive: true });
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
  const src = join(ROOT, 'src');
  const appPlugin = {
    name: 'roq-app',
    setup(b) {
      b.onResolve({ filter: /\/generated\/[a-z]+\.js$/ }, (args) =>
        args.importer.startsWith(src + '/')
          ? { path: join(out, 'generated', basename(args.path).replace(/\.js$/, '.ts')) }
          : undefined,
      );
      b.onResolve({ filter: /^roq\// }, (args) => ({ path: join(src, args.path.slice(4)).replace(/\.js$/, '.ts') }));
      // The CGI program's app pages: this app's templates/<query>.html, its title, and no departure board.
      b.onResolve({ filter: /\/app-templates\.js$/ }, (args) =>
        args.importer.startsWith(src + '/') ? { path: 'app-templates', namespace: 'roq-app' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'roq-app' }, () => ({ contents: appTemplatesModule(dir), loader: 'js' }));
    },
  };
  const appPrograms = programs.filter((p) => /^dist\/(roq\.js|worker\.js|load-thread\.js|roq\.cgi)$/.test(p.out));
  writeFileSync(join(out, 'dist/package.json'), '{ "type": "commonjs" }\n');
  await Promise.all(
    appPrograms.map(async (p) => {
      const file = join(out, p.out);
      await build(bundleOptions(p, file, [appPlugin], { ROQ_HOME: JSON.stringify(ROOT) }));
      if (p.shebang) chmodSync(file, 0o755);
    }),
  );
  if (existsSync(bun)) compileCgi(join(out, 'dist/roq.cgi'), join(out, 'dist/roq-cgi'));
  // For type-checking the app's query functions against its generated types: npx tsc -p DIR/.roq/tsconfig.json
  const tsconfig = {
    extends: join(ROOT, 'tsconfig.json'),
    compilerOptions: { paths: { 'roq/*': [join(src, '*')] }, typeRoots: [join(ROOT, 'node_modules/@types')] },
    include: [join(dir, 'queries/**/*.ts'), join(out, 'generated/*.ts'), join(src, 'types.d.ts')],
  };
  writeFileSync(join(out, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2) + '\n');
}
