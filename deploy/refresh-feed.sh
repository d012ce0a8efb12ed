#!/bin/bash
# Refreshes the data roq serves; run daily by cron (deploy/roq.cron) as the user roq, installed as
# <release>/bin/refresh-feed.sh. Silent on success and when nothing changed, so cron mails only failures.
#
#   1. fetch the feed: a zip over HTTPS from $ROQ_FEED_URL (how transit agencies publish GTFS), asked for with
#      If-None-Match / If-Modified-Since so that an unchanged feed costs one small request and nothing else; or
#      rsync from $ROQ_FEED_SOURCE into $ROQ_BASE/incoming/;
#   2. unpack or copy it into a new $ROQ_BASE/feeds/<stamp>/; a feed identical to the one served ends here;
#   3. `roq check --data` it in a process of its own: a feed that does not load is never shown to the daemon, and
#      the data symlink never points at it (so a restart cannot load it either). Exit 1 with the error;
#   4. point the symlink $ROQ_BASE/data at it with one rename, then `roq reload`, which returns once the daemon
#      serves the new files. If that fails anyway, the symlink goes back to the previous feed and this exits 1.
#      With no daemon running (a first install), the symlink stays: `roq start` loads that feed;
#   5. keep the newest $ROQ_KEEP_FEEDS feeds (never the one served).
#
# Environment: ROQ_FEED_URL (an https:// URL of a zip) or ROQ_FEED_SOURCE (an rsync source, with a trailing
# slash): one is required; ROQ_BASE (/srv/roq), ROQ_RUN_DIR (/run/roq), ROQ_KEEP_FEEDS (7),
# ROQ_BIN (/opt/roq/current/bin/roq). curl honours CURL_CA_BUNDLE for a feed served with a private CA.
set -euo pipefail
shopt -s nullglob

url=${ROQ_FEED_URL:-}
feed_source=${ROQ_FEED_SOURCE:-}
if [[ -z $url && -z $feed_source ]]; then
  echo "refresh-feed: set ROQ_FEED_URL (the feed's zip, https://…) or ROQ_FEED_SOURCE (an rsync source), e.g. in /etc/cron.d/roq" >&2
  exit 2
fi
base=${ROQ_BASE:-/srv/roq}
run=${ROQ_RUN_DIR:-/run/roq}
keep=${ROQ_KEEP_FEEDS:-7}
roq=${ROQ_BIN:-/opt/roq/current/bin/roq}

# Two refreshes must not overlap: the second would flip the symlink under the first one's reload. Taken here rather
# than in the cron line so that a refresh run by hand is covered too. In $base, which only roq writes: the run
# directory is shared with the web server's group.
mkdir -p "$base/incoming" "$base/feeds"
exec 9>>"$base/refresh.lock"
if ! flock -n 9; then
  echo "refresh-feed: another refresh holds $base/refresh.lock; not refreshing" >&2
  exit 1
fi

# Leftovers of a refresh that died while unpacking or copying; the lock above says none is running now.
rm -rf "$base"/feeds/.*.tmp "$base"/incoming/feed.zip.new "$base"/incoming/feed.zip.etag.new
stamp=$(date +%Y%m%d-%H%M%S)
[[ ! -e $base/feeds/$stamp ]] || stamp=$stamp-$$ # a second refresh within the same second
new=$base/feeds/.$stamp.tmp

# Downloads $url into incoming/feed.zip.new unless the server says the copy from the last refresh is current. The
# validators (ETag, Last-Modified as the file's mtime) are those of the last feed that went live: they move to
# feed.zip only after it does, so a feed that failed its check is fetched and reported again next time.
fetch_zip() {
  local zip=$base/incoming/feed.zip code
  local -a since=()
  [[ -f $zip ]] && since=(--time-cond "$zip")
  code=$(curl --silent --show-error --fail --location --max-time 600 --remote-time \
    --etag-compare "$zip.etag" --etag-save "$zip.etag.new" "${since[@]}" \
    --output "$zip.new" --write-out '%{http_code}' -- "$url") || {
    echo "refresh-feed: could not fetch $url (curl exit $?, above); the served feed stays" >&2
    exit 1
  }
  case $code in
    304) rm -f "$zip.new" "$zip.etag.new"; return 1 ;;
    200) return 0 ;;
    *) echo "refresh-feed: $url answered HTTP $code; the served feed stays" >&2; exit 1 ;;
  esac
}

# GTFS zips hold the .txt files at the top, but some wrap them in one directory: serve the files, not the wrapper.
unpack() {
  if ! unzip -q -o "$1" -d "$2"; then
    echo "refresh-feed: $url is not a readable zip file; the served feed stays" >&2
    exit 1
  fi
  local entries=("$2"/*)
  if [[ ${#entries[@]} -eq 1 && -d ${entries[0]} ]]; then
    mv "${entries[0]}" "$2.inner" && rmdir "$2" && mv "$2.inner" "$2"
  fi
}

# The fetched feed becomes the one the next refresh compares with.
commit_download() {
  [[ -n $url ]] || return 0
  local zip=$base/incoming/feed.zip
  mv -f "$zip.new" "$zip"
  if [[ -s $zip.etag.new ]]; then mv -f "$zip.etag.new" "$zip.etag"; else rm -f "$zip.etag.new" "$zip.etag"; fi
}

if [[ -n $url ]]; then
  fetch_zip || exit 0 # 304: the feed being served is current
  unpack "$base/incoming/feed.zip.new" "$new"
else
  rsync -rt --delete "$feed_source" "$base/incoming/"
  cp -R "$base/incoming" "$new"
fi

previous=$(readlink "$base/data" || true)
if [[ -n $previous ]] && diff -rq "$new" "$base/data/" >/dev/null 2>&1; then
  rm -rf "$new"
  commit_download
  exit 0 # the same files as the feed being served
fi
mv -T "$new" "$base/feeds/$stamp"

# `roq check` loads the feed in its own process and never touches the daemon.
if ! out=$("$roq" check --data "$base/feeds/$stamp" 2>&1); then
  printf '%s\n' "$out" >&2
  echo "refresh-feed: the new feed does not load; $base/data still points at ${previous:-nothing}, the rejected feed is kept in $base/feeds/$stamp" >&2
  exit 1
fi

# Relative target: the tree can be moved or mounted elsewhere. mv -T is rename(2): atomic, and it replaces the old
# symlink itself instead of moving data.new into the directory the old one points to.
flip() {
  ln -sfn "$1" "$base/data.new"
  mv -T "$base/data.new" "$base/data"
}
flip "feeds/$stamp"

# No daemon yet (a first install) or none now: the checked feed is what the next `roq start` loads. Only
# ROQ_NOT_RUNNING means that: a status that fails otherwise (ROQ_FILE_ACCESS, run as a user who may not read the
# daemon's files) says nothing of the daemon, so the reload below is tried, fails, and the symlink goes back.
if ! out=$("$roq" status --run "$run" 2>&1) && [[ $out == *ROQ_NOT_RUNNING* ]]; then
  commit_download
  echo "refresh-feed: no daemon runs on $run; $base/data points at the new feed, which the next start loads" >&2
  exit 0
fi

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
commit_download

# Oldest first: the stamps sort as they were made.
served=$(readlink -f "$base/data")
feeds=("$base"/feeds/[0-9]*/)
for ((i = 0; i < ${#feeds[@]} - keep; i++)); do
  dir=$(readlink -f "${feeds[i]}")
  [[ $dir == "$served" ]] || rm -rf "$dir"
done
