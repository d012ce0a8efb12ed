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
# The feed comes from outside (docs/SECURITY.md): a feed holds regular files and directories only. An archive
# with a symlink, a device or any other special entry, an absolute or `..` name, a name with a backslash or a
# control character, more than $ROQ_FEED_MAX_FILES files or more than $ROQ_FEED_MAX_BYTES bytes is refused before
# it is unpacked; the download and each unpacked file are cut at $ROQ_FEED_MAX_BYTES as they are written; and the
# unpacked (or copied) directory, made fresh, is checked again before anything points at it. The prune removes
# only directories this script made, by their own path, never through a symlink.
#
# Environment: ROQ_FEED_URL (an https:// URL of a zip) or ROQ_FEED_SOURCE (an rsync source, with a trailing
# slash): one is required; ROQ_BASE (/srv/roq), ROQ_RUN_DIR (/run/roq), ROQ_KEEP_FEEDS (7),
# ROQ_BIN (/opt/roq/current/bin/roq), ROQ_FEED_MAX_BYTES (4294967296: 4 GiB), ROQ_FEED_MAX_FILES (1000). curl
# honours CURL_CA_BUNDLE for a feed served with a private CA.
#
# `refresh-feed.sh --unpack ZIP DIR` only unpacks ZIP into the new directory DIR with every check above, and
# exits 1 naming what it refused: to look at a feed by hand.
set -euo pipefail
shopt -s nullglob

max_bytes=${ROQ_FEED_MAX_BYTES:-4294967296}
max_files=${ROQ_FEED_MAX_FILES:-1000}
[[ $max_bytes =~ ^[0-9]+$ && $max_files =~ ^[0-9]+$ ]] || {
  echo "refresh-feed: ROQ_FEED_MAX_BYTES and ROQ_FEED_MAX_FILES must be whole numbers" >&2
  exit 2
}
# What it prints of a name from the feed: printable characters only, so a name cannot reach a terminal as escapes.
shown() { printf '%s' "$1" | LC_ALL=C tr -c '[:print:]' '?'; }
# Refuses the feed: the directory being filled ($discard, made by this script) goes, and the served feed stays.
discard=
refuse_feed() {
  echo "refresh-feed: ${url:-${feed_source:-the feed}} $1; the served feed stays" >&2
  [[ -z $discard ]] || rm -rf -- "$discard"
  exit 1
}

# Reads the archive's listing before a byte is unpacked: entry types (the first letter of the mode zipinfo shows:
# `-` a file, `d` a directory; `l` a symlink, `c`/`b`/`p`/`s` devices, FIFOs and sockets), names, the number of
# files and their total size as the archive declares it. A zip bomb declares its size (unzip writes what it
# declares, or fails its length check), and unpack() cuts every file at max_bytes whatever it declares.
check_archive() {
  local zip=$1 listing bad files bytes
  listing=$(zipinfo "$zip" 2>/dev/null) || refuse_feed "is not a readable zip file"
  bad=$(zipinfo -1 "$zip" | LC_ALL=C grep -m 1 -E '^/|(^|/)\.\.(/|$)|\\|[[:cntrl:]]' || true)
  [[ -z $bad ]] || refuse_feed "holds the name '$(shown "$bad")' (absolute, with '..', a backslash or a control character)"
  bad=$(awk 'NR > 2 && !/^[0-9]+ files?, / && substr($1, 1, 1) != "-" && substr($1, 1, 1) != "d" { print; exit }' <<<"$listing")
  [[ -z $bad ]] || refuse_feed "holds an entry that is neither a file nor a directory (a symlink or a device): $(shown "$bad")"
  read -r files bytes < <(awk 'NR > 2 && !/^[0-9]+ files?, / && substr($1, 1, 1) == "-" { n++; b += $4 } END { printf "%d %.0f\n", n, b }' <<<"$listing")
  ((files <= max_files)) || refuse_feed "holds $files files; at most $max_files (ROQ_FEED_MAX_FILES)"
  ((bytes <= max_bytes)) || refuse_feed "unpacks to $bytes bytes; at most $max_bytes (ROQ_FEED_MAX_BYTES)"
}

# The unpacked or copied feed, before anything points at it: regular files and directories only, within bounds.
check_tree() {
  local dir=$1 odd files bytes
  odd=$(find "$dir" -mindepth 1 ! -type f ! -type d -print -quit)
  [[ -z $odd ]] || refuse_feed "holds '$(shown "${odd#"$dir"/}")', which is neither a file nor a directory (a symlink or a device)"
  # zipinfo shows a control character in a name as ^X, so the listing cannot tell: the names unpacked can.
  odd=$(LC_ALL=C find "$dir" -mindepth 1 -name '*[[:cntrl:]\\]*' -print -quit)
  [[ -z $odd ]] || refuse_feed "holds the name '$(shown "${odd#"$dir"/}")' (with a backslash or a control character)"
  files=$(find "$dir" -type f -printf . | wc -c)
  ((files <= max_files)) || refuse_feed "holds $files files; at most $max_files (ROQ_FEED_MAX_FILES)"
  bytes=$(find "$dir" -type f -printf '%s\n' | awk '{ b += $1 } END { printf "%.0f\n", b }')
  ((bytes <= max_bytes)) || refuse_feed "holds $bytes bytes; at most $max_bytes (ROQ_FEED_MAX_BYTES)"
}

# GTFS zips hold the .txt files at the top, but some wrap them in one directory: serve the files, not the wrapper.
# DIR must not exist: it is made here, so nothing in it comes from anywhere but the archive. Every file unzip
# writes is cut at max_bytes (ulimit -f, in KiB); a cut file fails the unpack.
unpack() {
  local zip=$1 dir=$2 entries
  check_archive "$zip"
  mkdir -m 0755 "$dir"
  discard=$dir
  (ulimit -f $((max_bytes / 1024 + 1)) && unzip -q -o "$zip" -d "$dir" >/dev/null 2>&1) ||
    refuse_feed "is not a readable zip file, or a file in it is larger than it says"
  check_tree "$dir"
  discard=
  entries=("$dir"/*)
  if [[ ${#entries[@]} -eq 1 && -d ${entries[0]} && ! -L ${entries[0]} ]]; then
    mv -T -- "${entries[0]}" "$dir.inner" && rmdir -- "$dir" && mv -T -- "$dir.inner" "$dir"
  fi
}

if [[ ${1:-} == --unpack ]]; then
  [[ $# -eq 3 ]] || { echo "usage: $0 --unpack ZIP DIR" >&2; exit 2; }
  url=$2
  unpack "$2" "$3"
  exit 0
fi

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
  # --max-filesize refuses a download whose announced length is too large; ulimit -f cuts one that announces none.
  code=$(ulimit -f $((max_bytes / 1024 + 1)) && curl --silent --show-error --fail --location --max-time 600 \
    --max-filesize "$max_bytes" --remote-time --etag-compare "$zip.etag" --etag-save "$zip.etag.new" "${since[@]}" \
    --output "$zip.new" --write-out '%{http_code}' -- "$url") || {
    echo "refresh-feed: could not fetch $url (curl exit $?, above; 63 or 153: larger than ROQ_FEED_MAX_BYTES, $max_bytes bytes); the served feed stays" >&2
    exit 1
  }
  case $code in
    304) rm -f "$zip.new" "$zip.etag.new"; return 1 ;;
    200) return 0 ;;
    *) echo "refresh-feed: $url answered HTTP $code; the served feed stays" >&2; exit 1 ;;
  esac
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
  # -rt without -l or -D: rsync copies no symlink and no device; the check below refuses them anyway.
  rsync -rt --delete "$feed_source" "$base/incoming/"
  discard=$new
  cp -R "$base/incoming" "$new"
  check_tree "$new"
  discard=
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

# Oldest first: the stamps sort as they were made. Only what this script made goes: a directory (not a symlink) in
# feeds/ named as a stamp, removed by its own path. rm -rf does not follow the symlinks inside what it removes.
served=$(readlink "$base/data")
made=()
for dir in "$base"/feeds/*; do
  [[ ${dir##*/} =~ ^[0-9]{8}-[0-9]{6}(-[0-9]+)?$ && -d $dir && ! -L $dir ]] && made+=("$dir")
done
for ((i = 0; i < ${#made[@]} - keep; i++)); do
  [[ ${made[i]##*/} == "${served##*/}" ]] || rm -rf -- "${made[i]}"
done
