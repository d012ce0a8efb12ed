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
# usage: install-release.sh TARBALL [PREFIX]     (PREFIX defaults to /opt/roq; TARBALL .tar.gz or .tar)
set -euo pipefail

usage="usage: $0 TARBALL [PREFIX]   (TARBALL from \`npm run release\`; PREFIX defaults to /opt/roq)"
if [[ ${1-} == --help || ${1-} == -h ]]; then
  echo "$usage"
  exit 0
fi
if [[ $# -lt 1 || $# -gt 2 || $1 == -* ]]; then
  echo "$usage" >&2
  exit 2
fi
tarball=$1
prefix=$(realpath -m -- "${2:-/opt/roq}")
[[ -f $tarball ]] || { echo "install-release: $tarball: no such file" >&2; exit 1; }

# The tarball holds one directory, roq-<version>-<commit>; the release is named after it without the prefix.
listing=$(tar -tf "$tarball") || { echo "install-release: $tarball is not a readable tar file" >&2; exit 1; }
top=${listing%%/*}
if [[ ! $top =~ ^roq-[0-9][0-9A-Za-z.+-]*$ ]] || grep -qv "^$top/" <<<"$listing"; then
  echo "install-release: $tarball is not a roq release (its top directory is '$top'; make one with npm run release)" >&2
  exit 1
fi
release=${top#roq-}
dest=$prefix/releases/$release
if [[ -e $dest ]]; then
  echo "install-release: $dest exists; releases are never overwritten (remove it first if it never went live)" >&2
  exit 1
fi

# Unpack next to the final name, then rename: a release directory is complete or absent, never half-copied.
mkdir -p "$prefix/releases"
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

previous=$(readlink "$prefix/current" || true)
# Relative target, so that PREFIX can move; mv -T is rename(2), which replaces the old symlink in one step.
ln -sfn "releases/$release" "$prefix/current.new"
mv -T "$prefix/current.new" "$prefix/current"

echo "installed $dest; $prefix/current points at it${previous:+ (it pointed at $previous)}"
if [[ -z $previous ]]; then
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
