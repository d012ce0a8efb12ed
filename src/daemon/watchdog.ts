/**
 * systemd's watchdog (WatchdogSec= in deploy/roq.service): while the daemon's main loop turns, it tells systemd
 * so (WATCHDOG=1, with a STATUS= line `systemctl status` shows) every half interval; a daemon whose loop is stuck
 * stops telling, and systemd kills and restarts it (Restart=on-failure), then runs OnFailure=.
 *
 * How it is told: NOTIFY_SOCKET is a unix datagram socket, which Node cannot open (node:dgram knows only UDP, and
 * node:net only stream sockets). So the ping is `systemd-notify`, started by the main loop's own timer: a loop
 * that is stuck starts none. Two consequences shape the unit:
 *  - the message comes from systemd-notify's pid, not the daemon's, so the unit says NotifyAccess=all (any process
 *    of its cgroup); the old race of a sender gone before systemd reads its pid is closed by systemd-notify itself,
 *    which waits (BARRIER=1, systemd 246 and later) until systemd has taken the message;
 *  - WATCHDOG_PID names the process systemd started (`roq start`, Type=forking), never this daemon, so it is
 *    not checked; and a daemon started by `roq upgrade` (ExecReload, which systemd gives no WATCHDOG_USEC) takes
 *    its predecessor's setting from status.json (upgrade.ts), kept there as `watchdog`.
 */
import { spawn } from 'node:child_process';
import type { Log } from './log.js';

export interface WatchdogSetting {
  /** NOTIFY_SOCKET: a path, or an abstract socket's name starting with '@'. */
  socket: string;
  /** WatchdogSec=, in milliseconds. */
  intervalMs: number;
}

/** The watchdog systemd asks for in this environment, if any. */
export function watchdogFrom(env: NodeJS.ProcessEnv): WatchdogSetting | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.NOTIFY_SOCKET || !Number.isSafeInteger(usec) || usec <= 0) return undefined;
  return { socket: env.NOTIFY_SOCKET, intervalMs: Math.max(1, Math.round(usec / 1000)) };
}

/**
 * Pings every half interval with `status()` as the STATUS= line; returns the function that stops. A ping still
 * running when the next is due is not doubled (systemd is slow, not the daemon). A failure is logged once per kind.
 */
export function startWatchdog(w: WatchdogSetting, log: Log, status: () => string): () => void {
  let busy = false;
  let reported = '';
  const fail = (why: string) => {
    if (why !== reported) log.error(`cannot tell systemd's watchdog that the daemon lives: ${why}`);
    reported = why;
  };
  const ping = () => {
    if (busy) return;
    busy = true;
    const child = spawn('systemd-notify', ['WATCHDOG=1', `STATUS=${status().replace(/\n/g, ' ')}`], {
      stdio: 'ignore',
      env: { ...process.env, NOTIFY_SOCKET: w.socket },
      timeout: Math.max(1000, w.intervalMs / 2),
      killSignal: 'SIGKILL',
    });
    child.on('error', (e) => {
      busy = false;
      fail(`systemd-notify: ${e.message}`);
    });
    child.on('close', (code) => {
      busy = false;
      if (code === 0) reported = '';
      else if (code !== null) fail(`systemd-notify exited with code ${code}`);
    });
  };
  ping();
  const timer = setInterval(ping, Math.max(50, w.intervalMs / 2));
  timer.unref();
  return () => clearInterval(timer);
}
