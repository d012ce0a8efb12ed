// `npm run release`: makes release/roq-<version>-<commit>.tar.gz, the one file a server needs. It holds only what
// runs in production, already built, so installing it needs neither npm, nor a compiler, nor devDependencies:
//
//   roq-<version>-<commit>/
//     package.json         name, version, engines and the commit; no dependencies: every bundle is self-contained
//     bin/roq              the command (deploy/bin-roq: runs ../dist/roq.js with node ≥ 20)
//     bin/*.sh             the cron job and the systemd helpers (deploy/refresh-feed.sh, service-*.sh)
//     dist/                roq.js (CLI and daemon), worker.js, load-thread.js: the daemon reads nothing else
//     cgi-bin/roq-relay    what Apache runs: the relay (src/cgi/relay.c), compiled; the daemon renders the pages
//     cgi-bin/roq.cgi      the same relay for Node, for a machine where the compiled one cannot run
//     deploy/              the unit, cron, logrotate and Apache files, and install-release.sh
//
// Not in it: tests, benchmarks, fuzz and soak programs, their baselines (better-sqlite3), node_modules, sources.
// Templates are compiled into the programs; schemas into src/generated, hence into the bundles.
//
// usage: node scripts/release.js [--out DIR] [--no-build]
//   --out DIR    where the tarball goes (default release/)
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

/** Each file of the release: where it comes from in the checkout, and its mode. */
const FILES = [
  ['dist/roq.js', 'dist/roq.js', 0o755],
  ['dist/worker.js', 'dist/worker.js', 0o644],
  ['dist/load-thread.js', 'dist/load-thread.js', 0o644],
  // Node runs a file named .cgi only as CommonJS, and the package.json nearest to it must not say "module".
  ['dist/package.json', 'dist/package.json', 0o644],
  ['dist/roq-relay', 'cgi-bin/roq-relay', 0o755],
  ['dist/roq.cgi', 'cgi-bin/roq.cgi', 0o755],
  ['dist/package.json', 'cgi-bin/package.json', 0o644],
  ['deploy/bin-roq', 'bin/roq', 0o755],
  ['deploy/refresh-feed.sh', 'bin/refresh-feed.sh', 0o755],
  ['deploy/service-reload.sh', 'bin/service-reload.sh', 0o755],
  ['deploy/service-upgrade.sh', 'bin/service-upgrade.sh', 0o755],
];

/** What the build must make for a release; the benchmarks' and tests' programs are left out on purpose. */
const PROGRAMS = ['roq.js', 'worker.js', 'load-thread.js', 'roq.cgi', 'roq-relay'];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) {
    console.error(`release: ${cmd} ${args.join(' ')} failed:\n${r.stdout ?? ''}${r.stderr ?? ''}`);
    process.exit(1);
  }
  return r.stdout.trim();
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
const name = `roq-${pkg.version}-${commit.slice(0, 7)}${dirty ? '-dirty' : ''}`;

const stage = mkdtempSync(join(out + '.tmp-'));
try {
  const root = join(stage, name);
  for (const [from, to, mode] of FILES) {
    if (!existsSync(from)) {
      console.error(
        `release: ${from} is missing; ${from.startsWith('dist/') ? 'run `npm run build`' : 'is the checkout complete?'}`,
      );
      process.exit(1);
    }
    mkdirSync(join(root, to, '..'), { recursive: true });
    copyFileSync(from, join(root, to));
    chmodSync(join(root, to), mode);
  }
  cpSync('deploy', join(root, 'deploy'), { recursive: true });
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
  writeFileSync(join(root, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');

  mkdirSync(out, { recursive: true });
  const tarball = join(out, `${name}.tar.gz`);
  // Owned by root in the archive whoever builds it, in a stable order, so two builds of a commit differ only in
  // what the compilers made.
  run('tar', ['-C', stage, '--owner=0', '--group=0', '--numeric-owner', '--sort=name', '-czf', tarball + '.tmp', name]);
  run('mv', ['-f', tarball + '.tmp', tarball]);
  const files = readdirSync(root, { recursive: true }).length;
  console.log(`${tarball} (${files} entries)`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
