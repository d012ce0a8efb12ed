/**
 * The `roq` program: subcommands start, stop, status and query, each in its own file, plus the hidden `daemon`
 * that `roq start` runs detached. Every failure is one line `roq: <message>` from the error catalog on stderr and
 * a non-zero exit: 2 for a usage or parameter mistake, 1 for everything else.
 */
import { escapeControls } from '../daemon/log.js';
import { RoqError } from '../errors.js';
import { check, CHECK_HELP } from './check.js';
import { buildLabel, thisBuild } from '../version.js';
import { build, BUILD_HELP, runInApp, takeAppOption } from './app.js';
import { health, HEALTH_HELP } from './health.js';
import { init, INIT_HELP } from './init.js';
import { query, QUERY_HELP } from './query.js';
import { reload, RELOAD_HELP } from './reload.js';
import { swap, SWAP_HELP } from './hold.js';
import { daemon, start, START_HELP } from './start.js';
import { status, STATUS_HELP } from './status.js';
import { stop, STOP_HELP } from './stop.js';
import { upgrade, UPGRADE_HELP } from './upgrade.js';

const HELP = `usage: roq COMMAND [OPTIONS]

roq loads flat-file tables into memory once and answers parameterized queries over FIFOs.

commands:
  start    load the data and start the daemon on a run directory
  stop     stop the daemon gracefully, answering the requests it already has
  reload   load the data directory again while the old data serves; wait and report the outcome
           (--hold: load it and keep it ready without serving it; --drop-held: discard that)
  swap     make the generation held by \`roq reload --hold\` current
  upgrade  replace the running daemon by one running this release's code, losing no request
  status   show the daemon's pid, version, uptime, generation, workers, counters and last reload
  health   check the daemon as a Nagios/Icinga/Monit plugin: one line, exit 0 OK, 1 WARNING, 2 CRITICAL
  query    ask the daemon one query and print the rows (a table, or --json)
  check    load and validate a data directory without a daemon (rows, dates, warnings); exit 1 on an error
  build    build an app (codegen, bundles, the CGI program) into its .roq/ directory
  init     make an app from a directory of CSV files: schemas inferred from the data, a lookup query per table

Every command takes --app DIR to act for the app in DIR (built first when needed); the default app is roq's
project root.

Run \`roq COMMAND --help\` for a command's options. The run directory is --run DIR, else $ROQ_RUN_DIR, else ./run.

commands' help:
${[START_HELP, STOP_HELP, RELOAD_HELP, SWAP_HELP, UPGRADE_HELP, STATUS_HELP, HEALTH_HELP, CHECK_HELP, BUILD_HELP, INIT_HELP].map((h) => '  ' + h.split('\n')[0]).join('\n')}
  ${QUERY_HELP.split('\n')[0]}
`;

const COMMANDS: Record<string, (argv: string[], app?: string) => Promise<number>> = {
  start,
  stop,
  reload,
  swap,
  upgrade,
  status,
  health,
  query,
  check,
  daemon,
  build,
  init,
};

function exitCode(e: RoqError): number {
  const mistake = ['ROQ_USAGE', 'ROQ_QUERY_UNKNOWN', 'ROQ_REQUEST_TOO_LARGE'].includes(e.code);
  return mistake || e.code.startsWith('ROQ_PARAM_') ? 2 : 1;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === 'version')
    return (void process.stdout.write(`roq ${buildLabel(thisBuild())}\n`), 0);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run) {
    process.stderr.write(`roq: unknown command '${command.slice(0, 40)}'; see \`roq --help\`\n`);
    return 2;
  }
  try {
    const { app, rest: args } = takeAppOption(rest);
    if (app !== undefined && !['build', 'daemon', 'init'].includes(command)) return runInApp(app, command, args);
    return await run(args, app);
  } catch (e) {
    if (e instanceof RoqError) {
      process.stderr.write(`roq: ${escapeControls(e.message, true)} [${e.code}]\n`); // names from data may hold escapes
      return exitCode(e);
    }
    process.stderr.write(`roq: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 70;
  }
}

void main(process.argv.slice(2)).then((code) => {
  // -1: a daemon runs in this process and exits by itself after a stop.
  if (code >= 0) process.exit(code);
});
