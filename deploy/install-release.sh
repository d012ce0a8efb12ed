#!/bin/bash
# Builds roq from this checkout and installs it as a new release, PREFIX/releases/<version>-<commit>/:
#
#   bin/roq                the command (deploy/bin-roq: runs ../dist/roq.js with node)
#   bin/refresh-feed.sh    the cron job (deploy/roq.cron)
#   dist/                  the bundles: roq.js (CLI and daemon), worker.js, load-thread.js, roq.cgi; nothing reads
#                          node_modules
#   cgi-bin/roq-cgi        what Apache runs: the CGI program compiled by Bun into one executable (dist/roq-cgi)
#   cgi-bin/roq.cgi        the same program as a bundle for Node (#!/usr/bin/env node), for machines without Bun
#
# It never touches PREFIX/current or a running daemon: it prints the two commands that put the release live.
# A release directory is never overwritten: a running daemon does not read its files again, but a rollback means
# going back to exactly what ran before.
#
# usage: deploy/install-release.sh [PREFIX]     (PREFIX defaults to /opt/roq)
set -euo pipefail

if [[ $# -gt 1 || ${1:-} == -* ]]; then
  echo "usage: $0 [PREFIX]   (default /opt/roq)" >&2
  exit 2
fi
prefix=${1:-/opt/roq}
prefix=$(realpath -m -- "$prefix")
cd "$(dirname "$0")/.."

# The directory is named after the commit, so it must hold that commit and nothing else.
if [[ -n $(git status --porcelain --untracked-files=no) ]]; then
  echo "install-release: the checkout has uncommitted changes; commit or stash them, so that the release is the commit it is named after" >&2
  exit 1
fi
release=$(node -p 'require("./package.json").version')-$(git rev-parse --short HEAD)
dest=$prefix/releases/$release
if [[ -e $dest ]]; then
  echo "install-release: $dest exists; releases are never overwritten (remove it first if it never went live)" >&2
  exit 1
fi

# npm ci builds too (the prepare script); the explicit build keeps this script right if that hook goes.
npm ci
npm run build
for f in dist/roq.js dist/worker.js dist/load-thread.js dist/roq.cgi dist/roq-cgi dist/package.json; do
  [[ -f $f ]] || { echo "install-release: the build did not make $f" >&2; exit 1; }
done

# Assemble next to the final name, then rename: a release directory is complete or absent, never half-copied.
mkdir -p "$prefix/releases"
tmp=$(mktemp -d "$prefix/releases/.$release.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/dist"
# Everything but the CGI executable, which goes to cgi-bin/ (it is 100 MB: the Bun runtime is in it).
find dist -maxdepth 1 -type f ! -name roq-cgi -exec cp {} "$tmp/dist/" \;
install -D -m 0755 deploy/bin-roq "$tmp/bin/roq"
install -D -m 0755 deploy/refresh-feed.sh "$tmp/bin/refresh-feed.sh"
install -D -m 0755 dist/roq-cgi "$tmp/cgi-bin/roq-cgi"
install -D -m 0755 dist/roq.cgi "$tmp/cgi-bin/roq.cgi"
# dist/package.json says "type": "commonjs": Node runs a file named .cgi only as CommonJS, and refuses it if a
# package.json above it says "module".
install -m 0644 dist/package.json "$tmp/cgi-bin/package.json"
chmod -R u=rwX,go=rX "$tmp"
if [[ -e $dest ]]; then
  echo "install-release: $dest appeared while building; not overwriting it" >&2
  exit 1
fi
mv -T "$tmp" "$dest"
trap - EXIT

cat <<EOF
installed $dest

next:
  1. make it the current release (one rename: the web and new commands switch at once):
       ln -sfn releases/$release $prefix/current.new && mv -T $prefix/current.new $prefix/current
  2. start the new code without downtime; under systemd:
       systemctl reload roq
     without systemd:
       $prefix/current/bin/roq upgrade --run /run/roq
EOF
