#!/bin/sh
# ExecReload of deploy/roq.service, installed as <release>/bin/service-reload.sh.
#
# `systemctl reload roq` reloads the DATA, as nginx's and every other unit's reload does: `roq reload`, which
# returns once the new data serves, or exits 1 with the load error while the old data serves on.
#
# The one exception is an upgrade asked for by service-upgrade.sh: it leaves a request file that only root can
# write, then runs `systemctl reload roq`; this script then runs `roq upgrade` instead. That is how a new daemon
# is started by systemd itself, inside the unit's cgroup and sandbox, so that systemd follows it as the new main
# PID (a daemon started from an admin's shell would be outside the unit, and systemd refuses a PID file that
# points there). A request file left behind by a killed upgrade only turns the next data reload into an upgrade,
# which loads the data too.
#
# Environment: ROQ_UPGRADE_REQUEST (/run/roq-upgrade.request); ROQ_RUN_DIR, ROQ_DATA_DIR as for roq.
set -eu
roq="$(dirname "$(readlink -f "$0")")/roq"
if [ -e "${ROQ_UPGRADE_REQUEST:-/run/roq-upgrade.request}" ]; then
  # --ready-timeout plus the takeover timeout (60 s) stay below the unit's TimeoutStartSec (300 s), so that roq,
  # not systemd, gives up on a slow new daemon, stops it and says why.
  exec "$roq" upgrade --ready-timeout 230000
fi
exec "$roq" reload --timeout 280000
