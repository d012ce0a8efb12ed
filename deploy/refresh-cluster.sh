#!/bin/bash
# Refreshes the data of every roq node behind a load balancer so that all of them switch to it at the same moment,
# or none does (docs/SCALE.md):
#
#   1. push: copy NEW_DATA_DIR to every node as <base>/feeds/<stamp>/ (rsync over ssh, hard-linking files that did
#      not change from the feed being served; a plain copy for `local` nodes), in parallel;
#   2. hold: point each node's data symlink at it and run `roq reload --hold`, in parallel: each daemon loads and
#      validates the new data while the old serves, and reports its content hash;
#   3. only if every node holds, and all hold the same hash: `roq swap` on every node at once (in parallel), each
#      through the same swap point in its request stream as a reload. Otherwise no node swaps: every node drops
#      what it held, its symlink goes back, and the script exits 1 naming each node that failed and why.
#
# usage: refresh-cluster.sh NEW_DATA_DIR NODE...
#   NODE is HOST:RUN_DIR:DATA_LINK — HOST an ssh destination (user@web1.example.org), or `local` for this machine;
#   RUN_DIR the node's roq run directory (/run/roq); DATA_LINK the symlink its daemon loads (--data, /srv/roq/data),
#   whose directory gets feeds/<stamp>/ (as deploy/refresh-feed.sh keeps it).
#
# Environment: ROQ_BIN (the roq command on the nodes, default /opt/roq/current/bin/roq), ROQ_SSH (default
# `ssh -o BatchMode=yes`; every ssh and rsync to a host shares one connection, see below), ROQ_HOLD_TIMEOUT_MS (600000), ROQ_KEEP_FEEDS (3: feeds kept per node, never the one
# served). Prints one line per node and step with bytes and seconds; silent otherwise, so cron mails only failures
# and the figures.
set -euo pipefail
shopt -s nullglob

usage() { echo "usage: $0 NEW_DATA_DIR HOST:RUN_DIR:DATA_LINK..." >&2; exit 2; }
[[ $# -ge 2 ]] || usage
new=${1%/}
shift
[[ -d $new ]] || { echo "refresh-cluster: $new is not a directory" >&2; exit 2; }
roq=${ROQ_BIN:-/opt/roq/current/bin/roq}
read -r -a ssh <<<"${ROQ_SSH:-ssh -o BatchMode=yes}"
hold_timeout=${ROQ_HOLD_TIMEOUT_MS:-600000}
keep=${ROQ_KEEP_FEEDS:-3}
stamp=$(date -u +%Y%m%dT%H%M%SZ)-$$
hosts=() runs=() links=()
work=$(mktemp -d)
# One ssh connection per host for the whole run (ControlMaster), not one per command: a node takes about seven
# commands, and the swap, issued to every node at once, then costs no handshake, so the nodes swap closer together.
# Options given in ROQ_SSH come first and win (ssh keeps the first value of an option).
ssh+=(-o ControlMaster=auto -o "ControlPath=$work/ssh-%C" -o ControlPersist=60)
# Hosts are checked to hold no whitespace (below), so one a line is exact.
remoteHosts() { printf '%s\n' "${hosts[@]}" | sort -u | grep -vx local || true; }
closeSsh() {
  local host
  while read -r host; do "${ssh[@]}" -O exit -- "$host" </dev/null 2>/dev/null || true; done < <(remoteHosts)
}
trap 'closeSsh; rm -rf "$work"' EXIT

for spec in "$@"; do
  IFS=: read -r host run link <<<"$spec"
  [[ -n $host && -n $run && -n $link ]] || { echo "refresh-cluster: bad node '$spec' (expected HOST:RUN_DIR:DATA_LINK)" >&2; exit 2; }
  # A host is an ssh destination, never an option (ssh would take -oProxyCommand=… as one and run it) nor words.
  [[ $host != -* && $host != *[[:space:]]* ]] || { echo "refresh-cluster: bad host in node '$spec': a host neither starts with '-' nor holds spaces" >&2; exit 2; }
  hosts+=("$host") runs+=("$run") links+=("$link")
done
count=${#hosts[@]}

# Runs a shell command line on node i: here for `local`, over ssh otherwise.
on() {
  local i=$1
  shift
  if [[ ${hosts[$i]} == local ]]; then bash -c "$*"; else "${ssh[@]}" -- "${hosts[$i]}" "$*"; fi
}
q() { printf '%q' "$1"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# The steps run as `each STEP || …`, where bash ignores `set -e`: every step checks its commands itself.

# 1. push. The feed goes next to the data symlink, under feeds/<stamp>; unchanged files are hard links to the
# served feed's (rsync --link-dest), so they cost neither transfer nor disk. --checksum: a file is "unchanged" only
# if its bytes are; rsync's default test (same size, same mtime to the second) takes a file that an export rewrote
# to the same length within the second, or with a fixed mtime as unzip and reproducible exports set, for unchanged.
push() {
  local i=$1 base feeds t0 bytes
  base=$(dirname "${links[$i]}")
  feeds="$base/feeds"
  t0=$(now)
  if [[ ${hosts[$i]} == local ]]; then
    mkdir -p "$feeds/$stamp" && cp -R "$new/." "$feeds/$stamp/" || return 1
    bytes=$(du -sb "$new" | cut -f1)
  else
    on "$i" "mkdir -p $(q "$feeds")" || return 1
    bytes=$(set -o pipefail; rsync -rt --checksum --delete --stats --link-dest="$(on "$i" "readlink -f $(q "${links[$i]}")")" -e "${ssh[*]}" \
      "$new/" "${hosts[$i]}:$feeds/$stamp/" | awk -F': ' '/Total bytes sent/ { gsub(/,/, "", $2); print $2 }') || return 1
  fi
  echo "push ${hosts[$i]}:${runs[$i]}: $bytes bytes in $(secs "$t0" "$(now)") s"
}

# 2. hold: flip the symlink (one rename), then load. Prints the hash the node holds into $work/hash.i.
hold() {
  local i=$1 link=${links[$i]} t0
  t0=$(now)
  on "$i" "readlink $(q "$link")" >"$work/previous.$i" || return 1
  on "$i" "ln -sfn feeds/$stamp $(q "$link.new") && mv -T $(q "$link.new") $(q "$link") && $roq reload --hold --run $(q "${runs[$i]}") --timeout $hold_timeout" >"$work/hold.$i" 2>&1 || return 1
  sed -n 's/.* hash \([0-9a-f]*\),.*/\1/p' "$work/hold.$i" | head -n 1 >"$work/hash.$i"
  [[ -s $work/hash.$i ]] || return 1
  echo "hold ${hosts[$i]}:${runs[$i]}: hash $(cat "$work/hash.$i") in $(secs "$t0" "$(now)") s"
}

undo() {
  local i=$1 previous
  previous=$(cat "$work/previous.$i" 2>/dev/null || true)
  on "$i" "$roq reload --drop-held --run $(q "${runs[$i]}")" >/dev/null 2>&1 || true
  if [[ -n $previous ]]; then
    on "$i" "ln -sfn $(q "$previous") $(q "${links[$i]}.new") && mv -T $(q "${links[$i]}.new") $(q "${links[$i]}") && rm -rf $(q "$(dirname "${links[$i]}")/feeds/$stamp")" || true
  fi
}

# Runs step $1 on every node in parallel; returns the number of nodes where it failed, after naming them.
each() {
  local step=$1 i failed=0 pids=()
  for ((i = 0; i < count; i++)); do
    ("$step" "$i" >"$work/$step.out.$i" 2>&1) &
    pids+=($!)
  done
  for ((i = 0; i < count; i++)); do
    if wait "${pids[$i]}"; then
      cat "$work/$step.out.$i"
    else
      failed=$((failed + 1))
      echo "refresh-cluster: $step failed on node ${hosts[$i]}:${runs[$i]}: $(cat "$work/$step.out.$i" "$work/$step.$i" 2>/dev/null | grep -v '^$' | tail -n 3 | tr '\n' ' ')" >&2
    fi
  done
  return "$failed"
}

refuse() {
  echo "refresh-cluster: $1; no node swapped, every node serves the data it served before" >&2
  for ((i = 0; i < count; i++)); do undo "$i" & done
  wait
  exit 1
}

# Opens each host's shared connection before the steps run in parallel: two first commands to a host at once would
# both try to become its master. A host that cannot be reached stops the run before any node changed.
connect() {
  local host failed=0
  while read -r host; do
    "${ssh[@]}" -- "$host" true </dev/null || { echo "refresh-cluster: cannot reach $host with ${ssh[0]}; no node changed" >&2; failed=1; }
  done < <(remoteHosts)
  return "$failed"
}
connect || exit 1
each push || refuse "the push failed"
each hold || refuse "the new data did not load everywhere"
hashes=$(cat "$work"/hash.* | sort -u)
if [[ $(wc -l <<<"$hashes") -ne 1 ]]; then
  for ((i = 0; i < count; i++)); do echo "  ${hosts[$i]}:${runs[$i]} holds $(cat "$work/hash.$i")" >&2; done
  refuse "the nodes hold different data"
fi

# 3. swap, all at once.
swap() {
  local i=$1 t0
  t0=$(now)
  on "$i" "$roq swap --run $(q "${runs[$i]}")" >"$work/swap.$i" 2>&1 || return 1
  echo "swap ${hosts[$i]}:${runs[$i]}: at $t0, took $(secs "$t0" "$(now)") s"
}
t0=$(now)
if ! each swap; then
  echo "refresh-cluster: some nodes did not swap (named above) and serve the previous data; the others serve $hashes" >&2
  exit 1
fi
echo "refresh-cluster: $count nodes serve $hashes (swaps issued within $(secs "$t0" "$(now)") s)"

# Old feeds: keep the newest $keep per node, never the one served.
prune() {
  local i=$1 feeds
  feeds="$(dirname "${links[$i]}")/feeds"
  on "$i" "cd $(q "$feeds") && ls -1d */ | sed 's,/\$,,' | grep -vx \"\$(basename \"\$(readlink -f $(q "${links[$i]}"))\")\" | sort | head -n -$((keep - 1)) | xargs -r rm -rf"
}
each prune >/dev/null || true
