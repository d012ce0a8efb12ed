#!/bin/bash
# Installs a release tarball (made by `npm run release`, see scripts/release.js) as PREFIX/releases/<version>-<commit>/
# and points PREFIX/current at it. Needs tar and coreutils only: no Node, no npm, no compiler, no node_modules; the
# bundles in the tarball are self-contained and run on the release's own runtime. Run it as root (or as the owner of
# PREFIX). The Debian package (`npm run release` makes it too) does all this and more with `apt install ./roq_….deb`.
#
#   bin/roq                the command (runs ../dist/roq.js with ../runtime/node)
#   runtime/node           the Node runtime of the version roq pins
#   bin/refresh-feed.sh    the cron job (deploy/roq.cron)
#   bin/service-*.sh       systemd's ExecReload and the code upgrade under systemd (deploy/roq.service)
#   dist/                  roq.js (CLI and daemon), worker.js, load-thread.js
#   cgi-bin/roq-relay      what Apache runs: the relay (src/relay/relay.c); the daemon renders the pages
#   cgi-bin/roq.cgi        the same relay for Node (#!/usr/bin/env node), for machines where roq-relay cannot run
#   deploy/                the unit, cron, logrotate and Apache files, and this script
#
# Switching `current` is one rename: Apache and new commands use the new release at once, the running daemon goes on
# with the code it loaded until it is upgraded (the command to do that is printed). A release directory is never
# overwritten: a rollback means going back to exactly what ran before.
#
# An app's release (`npm run release -- --app DIR`, scripts/release-app.js) has the same layout, names its app in
# its package.json ("app") and installs the same way, into /opt/roq-<app> by default: each app has its own
# directories, unit and URL path, so several live on one host beside roq's own.
#
# What Apache runs, cgi-bin/roq-relay, is copied out of wherever the release was built (a home directory that the
# web server's user cannot enter, say) into PREFIX, made readable and executable for all; as root, the script then
# checks that www-data can run it there, and says which directory is in the way if not.
#
# usage: install-release.sh TARBALL [PREFIX]     (PREFIX defaults to /opt/roq or /opt/roq-<app>; TARBALL .tar.gz or .tar)
set -euo pipefail

usage="usage: $0 TARBALL [PREFIX]   (TARBALL from \`npm run release\`; PREFIX defaults to /opt/roq, /opt/roq-<app> for an app)"
if [[ ${1-} == --help || ${1-} == -h ]]; then
  echo "$usage"
  exit 0
fi
if [[ $# -lt 1 || $# -gt 2 || $1 == -* ]]; then
  echo "$usage" >&2
  exit 2
fi
tarball=$1
[[ -f $tarball ]] || { echo "install-release: $tarball: no such file" >&2; exit 1; }

# The tarball holds one directory, roq-<version>-<commit> (or <app>-<version>-<build>); the release is named after it
# without the prefix.
listing=$(tar -tf "$tarball") || { echo "install-release: $tarball is not a readable tar file" >&2; exit 1; }
top=${listing%%/*}
# The manifest's "app" line, as release-app.js writes it; roq's own release has none.
app=$(tar -xOf "$tarball" "$top/package.json" 2>/dev/null | sed -n 's/^  "app": "\([a-z][a-z0-9-]*\)",\{0,1\}$/\1/p') || true
name=roq${app:+-$app}
if [[ ! $top =~ ^${app:-roq}-[0-9][0-9A-Za-z.+-]*$ ]] || grep -qv "^$top/" <<<"$listing"; then
  echo "install-release: $tarball is not a roq release (its top directory is '$top'; make one with npm run release)" >&2
  exit 1
fi
release=${top#"${app:-roq}"-}
prefix=$(realpath -m -- "${2:-/opt/$name}")
dest=$prefix/releases/$release
if [[ -e $dest ]]; then
  echo "install-release: $dest exists; releases are never overwritten (remove it first if it never went live)" >&2
  exit 1
fi

# Unpack next to the final name, then rename: a release directory is complete or absent, never half-copied.
mkdir -p "$prefix/releases"
# Open to all whatever root's umask: Apache's user passes through them to the relay.
chmod go+rx "$prefix" "$prefix/releases"
tmp=$(mktemp -d "$prefix/releases/.$release.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tar -xf "$tarball" -C "$tmp" --no-same-owner --strip-components=1 "$top"
for f in bin/roq runtime/node dist/roq.js dist/worker.js dist/load-thread.js cgi-bin/roq-relay cgi-bin/roq.cgi; do
  [[ -f $tmp/$f ]] || { echo "install-release: $tarball lacks $top/$f; not installing it" >&2; exit 1; }
done
chmod -R u=rwX,go=rX "$tmp"
chmod 0755 "$tmp"/bin/* "$tmp"/runtime/node "$tmp"/cgi-bin/roq-relay "$tmp"/cgi-bin/roq.cgi "$tmp"/dist/roq.js
mv -T "$tmp" "$dest"
trap - EXIT

# What a first install of an app says: its user, directories, data and unit, then the Apache lines, with this PREFIX.
# The files in deploy/ name the default PREFIX, /opt/roq-<app>.
first_app_install() {
  cat <<EOF

first install of the app $app: as root, make its user, directories and unit (the files are in
$prefix/current/deploy/, with the paths of /opt/$name), put its data in place and start it:
  id roq >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin --groups www-data roq
  install -d -o roq -g roq /srv/$name && install -d -o roq -g adm -m 0750 /var/log/$name
  cp -r DATA_DIR /srv/$name/data     # the data is not in the release: bin/refresh-feed.sh refreshes it by cron
  cp $prefix/current/deploy/roq.service /etc/systemd/system/$name.service
  cp $prefix/current/deploy/roq-failed@.service /etc/systemd/system/$name-failed@.service
  systemctl daemon-reload && systemctl enable --now $name
without systemd:
  install -d -o roq -g www-data -m 3730 /run/$name
  sudo -u roq $prefix/current/bin/roq start --run /run/$name --data /srv/$name/data

Apache (mod_cgid) serves it at /$app with these lines in /etc/apache2/conf-available/$name.conf
($prefix/current/deploy/apache.conf has them with comments):
ScriptAlias /$app $prefix/current/cgi-bin/roq-relay
<Location /$app>
    Require all granted
    SetEnv ROQ_RUN_DIR /run/$name
    SetEnv ap_trust_cgilike_cl 1
</Location>
<Directory $prefix/current/cgi-bin>
    Options +ExecCGI
    Require all granted
</Directory>
then: a2enmod cgid && a2enconf $name && systemctl reload apache2
EOF
}

previous=$(readlink "$prefix/current" || true)
# Relative target, so that PREFIX can move; mv -T is rename(2), which replaces the old symlink in one step.
ln -sfn "releases/$release" "$prefix/current.new"
mv -T "$prefix/current.new" "$prefix/current"

echo "installed $dest; $prefix/current points at it${previous:+ (it pointed at $previous)}"

# Apache runs the relay as www-data, which must reach it: a PREFIX inside a directory closed to others (a 0700 home)
# is not good enough. Only root can ask as another user; the first directory in the way is named.
relay=$prefix/current/cgi-bin/roq-relay
if [[ $EUID -eq 0 ]] && id -u www-data >/dev/null 2>&1 && ! runuser -u www-data -- test -x "$relay" 2>/dev/null; then
  blocked=/
  for part in ${dest//\// }; do
    blocked=${blocked%/}/$part
    runuser -u www-data -- test -x "$blocked" 2>/dev/null || break
  done
  echo "install-release: warning: the web server's user www-data cannot run $relay: it may not enter $blocked; install into a PREFIX it can reach (the default /opt/$name)" >&2
fi

if [[ -z $previous && -n $app ]]; then
  first_app_install
elif [[ -z $previous ]]; then
  cat <<EOF

first install: create the user, directories, unit, cron job and first feed as docs/OPERATIONS.md, "Start", says
(the same files are in $prefix/current/deploy/), then start the daemon:
  systemctl daemon-reload && systemctl enable --now roq
without systemd:
  sudo -u roq $prefix/current/bin/roq start --run /run/roq --data /srv/roq/data
EOF
else
  cat <<EOF

next: move the running daemon to this release without losing a request:
  $prefix/current/bin/service-upgrade.sh            # under systemd (not \`systemctl reload roq\`: that reloads the data)
  sudo -u roq $prefix/current/bin/roq upgrade        # without systemd
roll back: point current at $previous again, then upgrade the same way:
  ln -sfn $previous $prefix/current.new && mv -T $prefix/current.new $prefix/current
EOF
fi
