/**
 * Apps: `--app DIR` on any command, and `roq build`. An app is a directory shaped like roq's own sample
 * (schemas/tables, schemas/queries, queries/*.ts, templates/, data/). Building it (scripts/build.js --app) writes
 * roq's programs, bundled with the app's generated code and query functions, into DIR/.roq/ and nothing else.
 * A command given `--app DIR` builds the app when its build is missing or stale, then runs as the app's own
 * `roq` (DIR/.roq/dist/roq.js), so that every command — start, upgrade, query, status… — behaves exactly as it
 * does for the default app, which is roq's project root.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { appTemplatesMistake } from '../web/partials.js';
import { roqError } from '../errors.js';
import { parseCommand } from './options.js';

/** Set by scripts/build.js in an app's bundles: the checkout whose sources built it. */
declare const ROQ_HOME: string | undefined;

/** The roq checkout: the one that built this app bundle, else the one this program runs from (dist/roq.js). */
export function roqHome(): string {
  return typeof ROQ_HOME === 'string' ? ROQ_HOME : dirname(__dirname);
}

export const BUILD_HELP = `usage: roq build [--app DIR] [--force] [--release]

Builds an app: codegen from DIR/schemas/, then roq's daemon and CGI program bundled with the app's query
functions (DIR/queries/, type-checked against the generated types: errors as file:line:column) and templates
(DIR/templates/), into DIR/.roq/ only. Skipped when the build is up to
date, unless --force. Without --app, builds roq's own default app (what \`npm run build\` does).
Any command takes --app DIR and builds first when needed: \`roq start --app DIR --data DIR/data --run DIR/run\`.

  --app DIR   the app's directory (default: roq's project root)
  --force     build even if the build looks up to date
  --release   then make the release tarball to install on a server with deploy/install-release.sh, as
              \`npm run release -- --app DIR\` does: DIR/.roq/release/<app>-<version>-<build>-<platform>.tar.gz
`;

/** Splits `--app DIR` / `--app=DIR` out of a command's arguments. */
export function takeAppOption(argv: readonly string[]): { app: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let app: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '--app') {
      app = argv[++i];
      if (app === undefined) throw roqError('ROQ_USAGE', { command: 'app', detail: '--app needs a directory' });
    } else if (a.startsWith('--app=')) app = a.slice(6);
    else rest.push(a);
  }
  return { app: app === undefined ? undefined : resolve(app), rest };
}

const INPUT_DIRS = ['schemas', 'queries', 'templates'];

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/**
 * What a build depends on: the app's schemas, query functions, templates, page modules, app.json and app.ts (names and contents), and the roq
 * programs doing the building (the contents of each bundle), so that a new roq rebuilds every app.
 */
export function buildInputs(app: string): string {
  const h = createHash('sha256');
  for (const f of [
    ...INPUT_DIRS.flatMap((d) => filesUnder(join(app, d))),
    ...[join(app, 'app.json'), join(app, 'app.ts')].filter((f) => fs.existsSync(f)),
  ]) {
    h.update(`${relative(app, f)}\0`)
      .update(fs.readFileSync(f))
      .update('\0');
  }
  // By content, not time: `npm run demo` rebuilds roq's dist/ each time, and an app whose inputs and roq are the
  // same need not be built again.
  for (const p of ['roq.js', 'worker.js', 'load-thread.js', 'roq.cgi']) {
    const path = join(roqHome(), 'dist', p);
    h.update(`${p}:`)
      .update(fs.existsSync(path) ? fs.readFileSync(path) : '')
      .update('\0');
  }
  return h.digest('hex');
}

const STAMP = '.roq/build.json';

export function isBuilt(app: string): boolean {
  try {
    const stamp = JSON.parse(fs.readFileSync(join(app, STAMP), 'utf8')) as { inputs?: string };
    return stamp.inputs === buildInputs(app) && fs.existsSync(join(app, '.roq/dist/roq.js'));
  } catch {
    return false;
  }
}

/** The app's templates/*.html by name without `.html`, as scripts/build.js gives them to the CGI program. */
function appTemplates(app: string): Record<string, string> {
  const dir = join(app, 'templates');
  const names = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.html')) : [];
  return Object.fromEntries(names.map((f) => [f.slice(0, -'.html'.length), fs.readFileSync(join(dir, f), 'utf8')]));
}

/**
 * Builds the app with roq's build script; throws ROQ_BUILD_FAILED with the script's complaint, or first with the
 * file, line and column of a mistake in the app's templates.
 */
export function buildApp(app: string, say: (line: string) => void): void {
  if (!fs.existsSync(join(app, 'schemas')))
    throw roqError('ROQ_BUILD_FAILED', {
      app,
      detail: 'it has no schemas/ directory; make an app with `roq init APP --from DATA_DIR`',
    });
  const mistake = appTemplatesMistake(appTemplates(app));
  if (mistake) throw roqError('ROQ_BUILD_FAILED', { app, detail: mistake });
  const inputs = buildInputs(app);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(roqHome(), 'scripts/build.js'), '--app', app], { encoding: 'utf8' });
  if (r.status !== 0)
    throw roqError('ROQ_BUILD_FAILED', {
      app,
      detail: (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').slice(0, 8).join('\n'),
    });
  const typeErrors = typeCheck(app);
  if (typeErrors) throw roqError('ROQ_BUILD_FAILED', { app, detail: typeErrors });
  fs.writeFileSync(join(app, STAMP), JSON.stringify({ inputs, builtAt: new Date().toISOString() }) + '\n');
  say(`roq: built app ${app} in ${Math.round(performance.now() - t0)} ms (${join(app, '.roq/dist')})\n`);
}

/**
 * Type-checks the app's query functions, page modules and app.ts against its generated types (DIR/.roq/tsconfig.json, which the build
 * writes) with the TypeScript of roq's checkout: the bundler only strips types, so `const cp: string = parseInt(…)`
 * would build and run. Returns the errors as file:line:column lines, or '' when they check (or when the app has no
 * query functions, or roq was installed without TypeScript: a release checks nothing it cannot).
 */
function typeCheck(app: string): string {
  const tsc = join(roqHome(), 'node_modules/typescript/bin/tsc');
  const code = [...filesUnder(join(app, 'queries')), ...filesUnder(join(app, 'templates')), join(app, 'app.ts')];
  if (!code.some((f) => f.endsWith('.ts') && fs.existsSync(f)) || !fs.existsSync(tsc)) return '';
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '--pretty', 'false', '-p', '.roq/tsconfig.json'], {
    cwd: app,
    encoding: 'utf8',
  });
  if (r.status === 0) return '';
  const lines = (r.stdout || r.stderr || `tsc exit ${r.status}`).trim().split('\n');
  return lines
    .slice(0, 8)
    .map((l) => l.replace(/^(.+?)\((\d+),(\d+)\): /, '$1:$2:$3: '))
    .join('\n');
}

/** `roq build [--app DIR] [--force] [--release]`. */
export async function build(argv: string[], app: string | undefined): Promise<number> {
  const { values } = parseCommand('build', argv, { force: { type: 'boolean' }, release: { type: 'boolean' } });
  if (values.help) return (void process.stdout.write(BUILD_HELP), 0);
  if (app === undefined) {
    const script = values.release ? 'scripts/release.js' : 'scripts/build.js';
    const r = spawnSync(process.execPath, [join(roqHome(), script)], { stdio: 'inherit' });
    return r.status ?? 1;
  }
  // With --release, stdout is the tarball's path alone, as `npm run release` prints it.
  const say = (line: string) => (values.release ? process.stderr : process.stdout).write(line);
  if (!values.force && isBuilt(app)) say(`roq: app ${app} is up to date\n`);
  else buildApp(app, say);
  return values.release ? releaseApp(app) : 0;
}

/**
 * The app's release, made by scripts/release.js, the one implementation of `npm run release -- --app DIR` (the
 * app is built already; roq's own programs are taken as they are). Returns its exit status.
 */
function releaseApp(app: string): number {
  const r = spawnSync(process.execPath, [join(roqHome(), 'scripts/release.js'), '--app', app, '--no-build'], {
    stdio: 'inherit',
  });
  return r.status ?? 1;
}

/**
 * Runs `command rest…` as the app's own roq, building first if needed, and returns its exit status. Its output
 * goes straight to ours; build messages go to stderr so that `roq query --json` stays clean on stdout.
 */
export function runInApp(app: string, command: string, rest: readonly string[]): number {
  if (!isBuilt(app)) buildApp(app, (line) => process.stderr.write(line));
  const r = spawnSync(process.execPath, [join(app, '.roq/dist/roq.js'), command, ...rest], { stdio: 'inherit' });
  return r.status ?? 1;
}
