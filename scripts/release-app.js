// An app's release (`npm run release -- --app DIR`, `roq build --app DIR --release`): what scripts/release.js puts
// in the tarball for an app instead of roq's own sample. The same layout as roq's release, so that
// deploy/install-release.sh installs either:
//
//   <app>-<version>-<build>/
//     package.json     the manifest: "app" (its name), its version, and the roq (version and commit) that built it
//     bin/roq          deploy/bin-roq, defaulting to the app's /run/roq-<app> and /srv/roq-<app>/data
//     bin/*.sh         the cron job and the systemd helpers, for the app's unit roq-<app>.service
//     runtime/         the Node runtime, as in roq's release
//     dist/            the app's roq.js, worker.js and load-thread.js (DIR/.roq/dist/: roq with the app's code)
//     cgi-bin/         the relay and roq.cgi, roq's own: they carry no app code
//     app/             the app's app.json, app.ts, schemas/, queries/ and templates/: what the bundles were built from
//     deploy/          roq's unit, cron, logrotate and Apache files with the app's paths (no Debian files)
//
// The app's data/ is not in it: the data is the site's, refreshed on its own schedule by cron (bin/refresh-feed.sh
// into /srv/roq-<app>/data), and a release of code is never stale because the data moved on. The first data is
// copied by hand (install-release.sh says how).
//
// <version> is app.json's "version" (else 0.0.0), <build> the first 7 digits of the app's build stamp (a hash of
// its sources and of roq's bundles, DIR/.roq/build.json, written by `roq build`): a release directory is never
// overwritten, so two builds that differ must differ in name.
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/** The app's sources copied into app/ of its release, as a record of what was built. */
const APP_SOURCES = ['app.json', 'app.ts', 'schemas', 'queries', 'templates'];

/** A one-line complaint about DIR, or undefined when it is an app (`roq init` makes one). */
export function notAnApp(dir) {
  if (!existsSync(dir)) return `${dir}: no such directory`;
  if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
  if (!existsSync(join(dir, 'schemas')))
    return `${dir} is not an app: it has no schemas/ directory (make one with \`roq init APP --from DATA_DIR\`)`;
  return undefined;
}

/**
 * The app's name (app.json "name", else its directory's), version and build, as its release is named. The name
 * becomes paths (/opt/roq-<name>) and a URL path (/<name>): lower-case letters, digits and dashes only.
 */
export function appIdentity(dir) {
  const meta = existsSync(join(dir, 'app.json')) ? JSON.parse(readFileSync(join(dir, 'app.json'), 'utf8')) : {};
  const given = typeof meta.name === 'string' ? meta.name : basename(dir);
  const name = given
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!/^[a-z][a-z0-9-]*$/.test(name) || name === 'roq')
    throw new Error(`cannot name the release of ${dir} after '${given}': set "name" in its app.json (a-z, 0-9, -)`);
  const version = typeof meta.version === 'string' ? meta.version : '0.0.0';
  if (!/^[0-9][0-9A-Za-z.+-]*$/.test(version))
    throw new Error(
      `${join(dir, 'app.json')}: "version" must start with a digit (0-9, a-z, '.', '+', '-'), not '${version}'`,
    );
  const stamp = JSON.parse(readFileSync(join(dir, '.roq/build.json'), 'utf8'));
  return {
    name,
    title: typeof meta.title === 'string' ? meta.title : name,
    version,
    build: String(stamp.inputs).slice(0, 7),
  };
}

/**
 * The release's files as [from, to, mode], from roq's list (`files`): what goes to dist/ (the daemon, its worker
 * and load thread) comes from the app's build DIR/.roq/dist/ instead of roq's dist/; cgi-bin/ (the relay and its
 * Node twin carry no app code), the runtime and bin/ are roq's.
 */
export function appFiles(dir, files) {
  return files.map(([from, to, mode]) => [to.startsWith('dist/') ? join(dir, '.roq', from) : from, to, mode]);
}

/** The manifest of the app's release: the app, and the roq that built it. */
export function appManifest(app, pkg, commit) {
  return {
    name: app.name,
    app: app.name,
    version: app.version,
    description: app.title,
    private: true,
    dependencies: {},
    engines: pkg.engines,
    bin: { roq: 'bin/roq' },
    build: app.build,
    roq: { version: pkg.version, commit },
  };
}

/**
 * roq's deployment files for the app `name`: its own directories (/opt/roq-<name>, /run/roq-<name>,
 * /srv/roq-<name>, /var/log/roq-<name>, /etc/default/roq-<name>), units roq-<name>.service and
 * roq-<name>-failed@.service (whose `roq health` asks this app's daemon), Apache conf roq-<name>.conf and URL path
 * /<name>, so that it lives beside roq's own and other apps on one host. The daemon's user stays roq.
 */
export function localize(text, name) {
  return text
    .replace(
      /\/(opt|run|srv|var\/log|etc\/default|etc\/systemd\/system|etc\/apache2\/conf-available|etc\/logrotate\.d|etc\/cron\.d)\/roq(?![A-Za-z0-9_])/g,
      `/$1/roq-${name}`,
    )
    .replace(/(?<![\w/.-])roq\.service\b/g, `roq-${name}.service`)
    .replace(/(?<![\w/-])roq-failed@/g, `roq-${name}-failed@`)
    .replace(/RuntimeDirectory=roq(?![\w-])/g, `RuntimeDirectory=roq-${name}`)
    .replace(/\b(systemctl (?:\w+ )(?:--now )?|a2enconf )roq(?![\w.@-])/g, `$1roq-${name}`)
    .replace(/\/departures\b/g, `/${name}`);
}

/**
 * Rewrites the staged release's bin/ and deploy/ for the app (`localize`); roq's Debian files are left out.
 * install-release.sh stays as it is: one script installs roq's releases and every app's, reading which from the
 * tarball.
 */
export function localizeRelease(root, name) {
  rmSync(join(root, 'deploy/debian'), { recursive: true, force: true });
  for (const top of ['bin', 'deploy']) {
    for (const f of readdirSync(join(root, top), { recursive: true, withFileTypes: true })) {
      if (!f.isFile() || f.name === 'install-release.sh') continue;
      const path = join(f.parentPath, f.name);
      const text = readFileSync(path, 'utf8');
      const local = localize(text, name);
      // writeFileSync on an existing file keeps its mode (the scripts stay executable).
      if (local !== text) writeFileSync(path, local);
    }
  }
}

/** Copies the app's sources (APP_SOURCES) into the staged release's app/. */
export function stageAppSources(dir, root) {
  for (const f of APP_SOURCES) {
    if (existsSync(join(dir, f))) cpSync(join(dir, f), join(root, 'app', f), { recursive: true });
  }
}
