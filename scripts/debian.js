// The Debian package of a release (scripts/release.js calls buildDeb with the staged release directory): made with
// dpkg-deb from files already built, so it needs no network and no debhelper. What goes where:
//
//   /usr/lib/roq/                          the release (bin/, runtime/, dist/, cgi-bin/, package.json)
//   /usr/bin/roq                           -> ../lib/roq/bin/roq
//   /lib/systemd/system/roq.service        deploy/roq.service, and roq-failed@.service (its OnFailure=)
//   /etc/apache2/conf-available/roq.conf   deploy/apache.conf: `a2enmod cgid && a2enconf roq` (conffile)
//   /etc/logrotate.d/roq                   deploy/roq.logrotate (conffile)
//   /usr/share/roq/sample/                 the sample feed, copied to /var/lib/roq/feeds/sample on first install
//   /usr/share/doc/roq/                    copyright, changelog, examples/roq.cron (the feed refresh, off by default)
//   DEBIAN/                                control, conffiles, and deploy/debian/{postinst,prerm,postrm}
//
// The deploy/ files name the tarball's layout (/opt/roq/current, /srv/roq); the package's copies name its own
// (/usr/lib/roq, /var/lib/roq: Debian policy keeps packages out of /opt and /srv). The maintainer scripts create the
// user roq (in group www-data), /var/log/roq and the data directory, upgrade a running daemon with `roq upgrade`,
// stop it on remove, and remove what they created on purge (deploy/debian/postinst says why and how).
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** The tarball's paths and the package's, in the text files that name them. */
const PATHS = [
  ['/opt/roq/current', '/usr/lib/roq'],
  ['/srv/roq', '/var/lib/roq'],
];

/**
 * Not in the package: the Node fallback of the CGI program, for a machine where the Bun executable cannot run (the
 * package is built for its architecture), which would need a node on the PATH.
 */
const LEFT_OUT = ['deploy', 'cgi-bin/roq.cgi', 'cgi-bin/package.json'];

/** The sample feed the package serves until the admin gives it theirs. */
const SAMPLE = 'data/gtfs-lirr';

/** Debian's name for Node's process.arch. */
const ARCH = { x64: 'amd64', arm64: 'arm64' };

/**
 * A Debian version for a release of `version` at `commit`: ordered by the number of commits, so that each build
 * of a later commit on the same branch upgrades an earlier one, and naming the commit as the tarball does.
 */
export function debianVersion(version, commit, commits, dirty) {
  return `${version}+${commits}.g${commit.slice(0, 7)}${dirty ? '.dirty' : ''}`;
}

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Copies a text file with the tarball's paths replaced by the package's. */
function relocate(from, to, mode = 0o644) {
  let text = readFileSync(from, 'utf8');
  for (const [a, b] of PATHS) text = text.replaceAll(a, b);
  mkdirSync(join(to, '..'), { recursive: true });
  writeFileSync(to, text);
  chmodSync(to, mode);
}

/** Kibibytes under `dir`, as dpkg counts Installed-Size. */
function installedSize(dir) {
  let bytes = 0;
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (f.isFile()) bytes += statSync(join(f.parentPath, f.name)).size;
  }
  return Math.ceil(bytes / 1024);
}

function control(o, size) {
  return [
    'Package: roq',
    `Version: ${o.version}`,
    `Architecture: ${ARCH[process.arch] ?? process.arch}`,
    'Maintainer: roq maintainers <roq@example.org>',
    `Installed-Size: ${size}`,
    // adduser for the user; the runtime and the CGI executable are linked against glibc, libstdc++ and libgcc.
    'Depends: adduser, libc6 (>= 2.28), libstdc++6, libgcc-s1',
    'Recommends: apache2',
    'Suggests: curl, unzip, rsync',
    'Section: web',
    'Priority: optional',
    'Description: read-only query server for flat-file data',
    ' roq loads flat-file tables (a GTFS timetable in the sample) into shared memory',
    ' and answers queries over FIFOs: from the command line, and from the web through',
    ' a small CGI program behind Apache. It carries its own Node runtime.',
    '',
  ].join('\n');
}

function changelog(o) {
  const date = sh('git', ['log', '-1', '--format=%aD']).trim();
  return `roq (${o.version}) unstable; urgency=medium\n\n  * Release of commit ${o.commit}.\n\n -- roq maintainers <roq@example.org>  ${date}\n`;
}

/** roq(1): the command's own --help, which says what the package's roq does, as a manual page. */
function manPage(o) {
  const help = sh(process.execPath, [join(o.release, 'dist/roq.js'), '--help']);
  const text = help.replaceAll('\\', '\\e').replace(/^([.'])/gm, '\\&$1');
  const page = [
    `.TH ROQ 1 "" "roq ${o.version}" "User Commands"`,
    '.SH NAME',
    'roq \\- read-only query server for flat-file data',
    '.SH DESCRIPTION',
    '.nf',
    text.trimEnd(),
    '.fi',
    '.SH FILES',
    '/lib/systemd/system/roq.service, /etc/apache2/conf-available/roq.conf, /var/lib/roq/data, /var/log/roq',
    '',
  ].join('\n');
  return gzipSync(page, { level: 9 });
}

/** Lays out the package's tree in `pkg` from the staged release `o.release`. */
function layout(pkg, o) {
  const lib = join(pkg, 'usr/lib/roq');
  cpSync(o.release, lib, { recursive: true });
  for (const f of LEFT_OUT) rmSync(join(lib, f), { recursive: true });
  for (const f of readdirSync(join(lib, 'bin'))) relocate(join(o.release, 'bin', f), join(lib, 'bin', f), 0o755);
  // bin/roq runs it with the package's runtime: not a program of its own, so no `#!/usr/bin/env node` line that
  // would ask for Debian's nodejs (a blank line keeps the line numbers of stack traces).
  const roq = join(lib, 'dist/roq.js');
  writeFileSync(roq, readFileSync(roq, 'utf8').replace(/^#!.*\n/, '\n'));
  chmodSync(roq, 0o644);
  mkdirSync(join(pkg, 'usr/bin'), { recursive: true });
  symlinkSync('../lib/roq/bin/roq', join(pkg, 'usr/bin/roq'));
  for (const unit of ['roq.service', 'roq-failed@.service']) {
    relocate(join('deploy', unit), join(pkg, 'lib/systemd/system', unit));
  }
  relocate('deploy/apache.conf', join(pkg, 'etc/apache2/conf-available/roq.conf'));
  relocate('deploy/roq.logrotate', join(pkg, 'etc/logrotate.d/roq'));
  cpSync(SAMPLE, join(pkg, 'usr/share/roq/sample'), { recursive: true });
  const doc = join(pkg, 'usr/share/doc/roq');
  relocate('deploy/roq.cron', join(doc, 'examples/roq.cron'));
  copyFileSync('deploy/debian/copyright', join(doc, 'copyright'));
  writeFileSync(join(doc, 'changelog.gz'), gzipSync(changelog(o), { level: 9 }));
  mkdirSync(join(pkg, 'usr/share/man/man1'), { recursive: true });
  writeFileSync(join(pkg, 'usr/share/man/man1/roq.1.gz'), manPage(o));
  for (const d of readdirSync(pkg, { recursive: true, withFileTypes: true })) {
    if (d.isDirectory()) chmodSync(join(d.parentPath, d.name), 0o755);
  }
  const debian = join(pkg, 'DEBIAN');
  mkdirSync(debian);
  writeFileSync(join(debian, 'control'), control(o, installedSize(pkg)));
  writeFileSync(join(debian, 'conffiles'), '/etc/apache2/conf-available/roq.conf\n/etc/logrotate.d/roq\n');
  for (const s of ['postinst', 'prerm', 'postrm']) relocate(join('deploy/debian', s), join(debian, s), 0o755);
}

/**
 * Builds `<out>/roq_<version>_<arch>.deb` from the staged release directory `o.release` and returns its path.
 * Run in the checkout (deploy/ and the sample are read from it). Files are owned by root in the package whoever
 * builds it.
 */
export function buildDeb(o) {
  const stage = mkdtempSync(join(o.out, '.deb-'));
  try {
    const pkg = join(stage, 'roq');
    layout(pkg, o);
    const deb = join(o.out, `roq_${o.version}_${ARCH[process.arch] ?? process.arch}.deb`);
    // zstd: dpkg ≥ 1.21.18 (Debian 12) reads it; xz would make a package 25% smaller in 50 times the time (minutes
    // on a busy build machine: the runtime and the CGI executable are 200 MB).
    sh('dpkg-deb', ['--root-owner-group', '-Zzstd', '--build', pkg, deb]);
    return deb;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
