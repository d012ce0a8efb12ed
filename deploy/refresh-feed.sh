#!/bin/bash
# Refreshes the data roq serves; run daily by cron (deploy/roq.cron) as the user roq, installed as
# <release>/bin/refresh-feed.sh. Silent on success, so cron mails only failures.
#
#   1. rsync the feed from $ROQ_FEED_SOURCE into $ROQ_BASE/incoming/ (a mirror of the source);
#   2. copy it into a new $ROQ_BASE/feeds/<stamp>/ and point the symlink $ROQ_BASE/data at it with one rename, so
#      the daemon never sees a half-copied feed or a missing data directory;
#   3. `roq reload`, which returns once the daemon serves the new files, or exits 1 naming file:line:column while
#      the old data keeps serving. Then the symlink goes back to the previous feed, so that a restart does not load
#      the rejected one, and this script exits 1;
#   4. keep the newest $ROQ_KEEP_FEEDS feeds (never the one served).
#
# Environment: ROQ_FEED_SOURCE (required: an rsync source, with a trailing slash), ROQ_BASE (/srv/roq),
# ROQ_RUN_DIR (/run/roq), ROQ_KEEP_FEEDS (7), ROQ_BIN (/opt/roq/current/bin/roq).
set -euo pipefail
shopt -s nullglob

feed_source=${ROQ_FEED_SOURCE:?"set it to the rsync source of the feed, e.g. in /etc/cron.d/roq"}
base=${ROQ_BASE:-/srv/roq}
run=${ROQ_RUN_DIR:-/run/roq}
keep=${ROQ_KEEP_FEEDS:-7}
roq=${ROQ_BIN:-/opt/roq/current/bin/roq}

# Two refreshes must not overlap: the second would flip the symlink under the first one's reload. Taken here rather
# than in the cron line so that a refresh run by hand is covered too.
exec 9>>"$run/refresh.lock"
if ! flock -n 9; then
  echo "refresh-feed: another refresh holds $run/refresh.lock; not refreshing" >&2
  exit 1
fi

mkdir -p "$base/incoming" "$base/feeds"
rsync -rt --delete "$feed_source" "$base/incoming/"

previous=$(readlink "$base/data" || true)
if [[ -n $previous ]] && diff -rq "$base/incoming" "$base/data/" >/dev/null 2>&1; then
  exit 0 # nothing new since the feed being served
fi

# Leftovers of a refresh that died while copying; the lock above says none is running now.
rm -rf "$base"/feeds/.*.tmp

stamp=$(date +%Y%m%d-%H%M%S)
cp -R "$base/incoming" "$base/feeds/.$stamp.tmp"
mv -T "$base/feeds/.$stamp.tmp" "$base/feeds/$stamp"

# Relative target: the tree can be moved or mounted elsewhere. mv -T is rename(2): atomic, and it replaces the old
# symlink itself instead of moving data.new into the directory the old one points to.
flip() {
  ln -sfn "$1" "$base/data.new"
  mv -T "$base/data.new" "$base/data"
}
flip "feeds/$stamp"

if ! out=$("$roq" reload --run "$run" 2>&1); then
  printf '%s\n' "$out" >&2
  if [[ -n $previous ]]; then
    flip "$previous"
    echo "refresh-feed: $base/data points at $previous again; the rejected feed is kept in $base/feeds/$stamp" >&2
  else
    echo "refresh-feed: no previous feed to go back to; $base/data points at the rejected $base/feeds/$stamp" >&2
  fi
  exit 1
fi

# Oldest first: the stamps sort as they were made.
served=$(readlink -f "$base/data")
feeds=("$base"/feeds/[0-9]*/)
for ((i = 0; i < ${#feeds[@]} - keep; i++)); do
  dir=$(readlink -f "${feeds[i]}")
  [[ $dir == "$served" ]] || rm -rf "$dir"
done
