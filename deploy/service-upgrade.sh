#!/bin/sh
# Upgrades the code of a running roq.service to the release /opt/roq/current points at, losing no request: run as
# root after deploy/install-release.sh, installed as <release>/bin/service-upgrade.sh.
#
#   /opt/roq/current/bin/service-upgrade.sh [UNIT]        (UNIT defaults to roq.service)
#
# It asks service-reload.sh (the unit's ExecReload) for an upgrade instead of a data reload, by a request file in
# /run that only root can write, then runs `systemctl reload UNIT`: the new daemon is started by systemd, inside
# the unit's cgroup and sandbox, and systemd follows it as the new main PID. The exit status and the journal
# (`journalctl -u roq`) say how it went; on failure the old daemon serves on.
#
# Environment: ROQ_UPGRADE_REQUEST (/run/roq-upgrade.request), as in service-reload.sh.
set -eu
unit=${1:-roq.service}
request=${ROQ_UPGRADE_REQUEST:-/run/roq-upgrade.request}
if ! systemctl is-active --quiet "$unit"; then
  echo "service-upgrade: $unit is not running; start it with: systemctl start $unit" >&2
  exit 1
fi
# One upgrade at a time; `roq upgrade` refuses a second one too, but the request file must not be removed under it.
exec 9>>"$request.lock"
if ! flock -n 9; then
  echo "service-upgrade: another upgrade holds $request.lock" >&2
  exit 1
fi
umask 022
echo "upgrade to $(readlink -f /opt/roq/current 2>/dev/null || echo current) asked at $(date -u +%FT%TZ)" >"$request"
trap 'rm -f "$request"' EXIT
systemctl reload "$unit"
