/**
 * The daemon's options in their three spellings, kept in one place so they cannot drift: the command line of
 * `roq start` / `roq daemon` (fromArgs, toArgs), and the `options` of status.json (toStatus, argsOfStatus), from
 * which `roq upgrade` starts a successor with the same options. Every option an admin gives `roq start` is kept in
 * status.json, `--user` included: a successor started without it would run as whoever runs the upgrade.
 */
import { resolve } from 'node:path';
import type { DaemonOptions } from '../daemon/daemon.js';
import { privatePath } from '../daemon/private-dir.js';
import { dataDir, defaultWorkers, intOption, RUN_OPTION, runDir, type Options } from '../cli/options.js';
import { roqError } from '../errors.js';
import { findProgram, quoteWord, splitCommand } from '../daemon/notify.js';
import { watchdogFrom, type WatchdogSetting } from '../daemon/watchdog.js';
import { defaultLogFile } from './lifecycle.js';

/** The command-line options that shape a running daemon (`roq start` and `roq upgrade` take them all). */
export const DAEMON_OPTIONS = {
  ...RUN_OPTION,
  data: { type: 'string' },
  workers: { type: 'string' },
  deadline: { type: 'string' },
  log: { type: 'string' },
  'access-log': { type: 'string' },
  'takeover-timeout': { type: 'string' },
  user: { type: 'string' },
  roq1: { type: 'string' },
  notify: { type: 'string' },
  'notify-interval': { type: 'string' },
} satisfies Options;

/** What status.json keeps of a daemon's options; fields after deadlineMs are absent from older daemons' files. */
export interface StatusOptions {
  data: string;
  workers: number;
  deadlineMs: number;
  logFile?: string;
  accessLog?: string;
  takeoverTimeoutMs?: number;
  user?: string;
  roq1?: boolean;
  notify?: string[];
  notifyIntervalMs?: number;
  /** systemd's watchdog: not an argument (systemd sets it in the environment), handed on by `roq upgrade`. */
  watchdog?: WatchdogSetting;
}

export type OptionValues = Record<string, string | boolean | undefined>;

/** The daemon's options from parsed command-line values (`command` names the subcommand in usage errors). */
export function fromArgs(command: string, values: OptionValues): DaemonOptions {
  const run = runDir(values.run);
  const accessLog = typeof values['access-log'] === 'string' ? values['access-log'] : privatePath(run, 'access.log');
  // Only the test build (scripts/build.js) has the fault queries; elsewhere the variable means nothing.
  const faults = (typeof ROQ_TEST_BUILD !== 'boolean' || ROQ_TEST_BUILD) && process.env.ROQ_TEST_FAULTS === '1';
  const watchdog = watchdogFrom(process.env);
  return {
    run,
    data: dataDir(values.data),
    workers: intOption(command, 'workers', values.workers, defaultWorkers(), 1, 256),
    deadlineMs: intOption(command, 'deadline', values.deadline, 2000, 10, 3_600_000),
    faults,
    takeover: values.takeover === true,
    takeoverTimeoutMs: intOption(command, 'takeover-timeout', values['takeover-timeout'], 60_000, 100, 3_600_000),
    logFile: typeof values.log === 'string' ? resolve(values.log) : values.foreground ? undefined : defaultLogFile(run),
    accessLog: accessLog === 'off' ? undefined : resolve(accessLog),
    loadDelayMs: faults ? Number(process.env.ROQ_TEST_LOAD_DELAY_MS) || 0 : 0,
    roq1: onOff(command, 'roq1', values.roq1, true),
    ...(typeof values.user === 'string' ? { user: values.user } : {}),
    ...notifyOptions(command, values),
    ...(watchdog ? { watchdog } : {}),
  };
}

/** --notify (else $ROQ_NOTIFY) as the program's words, and --notify-interval. */
export function notifyOptions(
  command: string,
  values: OptionValues,
): Pick<DaemonOptions, 'notify' | 'notifyIntervalMs'> {
  const text = typeof values.notify === 'string' ? values.notify : process.env.ROQ_NOTIFY || undefined;
  const notify = text === undefined ? undefined : splitCommand(text);
  if (text !== undefined && !notify)
    throw roqError('ROQ_USAGE', {
      command,
      detail: `--notify needs a program and its arguments, with every quote closed, got '${text.slice(0, 80)}'`,
    });
  // Said now, not at the first event in the middle of the night.
  if (notify && !findProgram(notify[0]!))
    throw roqError('ROQ_USAGE', {
      command,
      detail: `--notify: no program '${notify[0]!.slice(0, 80)}' to run (give its full path, e.g. /usr/bin/logger)`,
    });
  const every = intOption(command, 'notify-interval', values['notify-interval'], 600_000, 100, 86_400_000);
  return { ...(notify ? { notify } : {}), notifyIntervalMs: every };
}

function onOff(command: string, name: string, value: string | boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === 'on' || value === 'off') return value === 'on';
  throw roqError('ROQ_USAGE', {
    command,
    detail: `--${name} takes 'on' or 'off', not '${String(value).slice(0, 40)}'`,
  });
}

/** What status.json says of options `o`. */
export function toStatus(o: DaemonOptions): StatusOptions {
  return {
    data: o.data,
    workers: o.workers,
    deadlineMs: o.deadlineMs,
    ...(o.logFile ? { logFile: o.logFile } : {}),
    ...(o.accessLog ? { accessLog: o.accessLog } : {}),
    takeoverTimeoutMs: o.takeoverTimeoutMs,
    ...(o.user ? { user: o.user } : {}),
    roq1: o.roq1,
    ...(o.notify ? { notify: o.notify } : {}),
    notifyIntervalMs: o.notifyIntervalMs,
    ...(o.watchdog ? { watchdog: o.watchdog } : {}),
  };
}

/**
 * The command-line values that give a daemon the options status.json records (as much of them as an older
 * daemon's file holds: what it lacks stays undefined, so the defaults apply). A log file is named only when the
 * daemon had one (not with --foreground's stderr); no access log is `off`.
 */
export function argsOfStatus(s: StatusOptions): OptionValues {
  const text = (n: number | undefined) => (n === undefined ? undefined : String(n));
  return {
    data: s.data,
    workers: text(s.workers),
    deadline: text(s.deadlineMs),
    log: s.logFile,
    'access-log': s.accessLog ?? 'off',
    'takeover-timeout': text(s.takeoverTimeoutMs),
    user: s.user,
    roq1: s.roq1 === undefined ? undefined : s.roq1 ? 'on' : 'off',
    notify: s.notify?.map(quoteWord).join(' '),
    'notify-interval': text(s.notifyIntervalMs),
  };
}

/**
 * The options of a successor to the daemon whose status.json is `old` (`roq upgrade`, `roq health --restart`):
 * its options, each one given on the command line (`values`) winning. A daemon of 0.1 kept none (compat.ts): only
 * its data directory, from its generation. `--user` is kept only when this runs as root, the one who can start a
 * daemon that becomes another user; anyone else can only start one that runs as themselves.
 */
export function successorOptions(
  command: string,
  old: { options?: StatusOptions; generation: { dataDir: string } } | undefined,
  values: OptionValues,
): DaemonOptions {
  const given = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
  const kept = !old ? {} : !old.options ? { data: old.generation.dataDir } : argsOfStatus(old.options);
  if (process.geteuid?.() !== 0) delete kept.user;
  return fromArgs(command, { ...kept, ...given });
}

/** The arguments that make `roq daemon` run with options `o`. */
export function toArgs(o: DaemonOptions): string[] {
  const values: OptionValues = { run: o.run, ...argsOfStatus(toStatus(o)), log: o.logFile ?? defaultLogFile(o.run) };
  const args = Object.entries(values).flatMap(([name, v]) => (typeof v === 'string' ? [`--${name}`, v] : []));
  return o.takeover ? [...args, '--takeover'] : args;
}
