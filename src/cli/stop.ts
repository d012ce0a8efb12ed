/** `roq stop`: a graceful stop of the daemon on a run directory (see lifecycle.stopDaemon). */
import { stopDaemon } from '../control/lifecycle.js';
import { intOption, parseCommand, RUN_OPTION, runDir } from './options.js';

export const STOP_HELP = `usage: roq stop [--run DIR] [--timeout MS]

Stops the daemon on the run directory gracefully: the requests it has already received are answered first.
Returns once the process is gone; fails with ROQ_NOT_RUNNING when no daemon runs there.

  --run DIR       run directory (default $ROQ_RUN_DIR, else ./run)
  --timeout MS    how long to wait for the daemon to exit (default 10000)
`;

export async function stop(argv: string[]): Promise<number> {
  const { values } = parseCommand('stop', argv, { ...RUN_OPTION, timeout: { type: 'string' } });
  if (values.help) return (void process.stdout.write(STOP_HELP), 0);
  const run = runDir(values.run);
  const pid = await stopDaemon(run, intOption('stop', 'timeout', values.timeout, 10_000, 1, 3_600_000));
  process.stdout.write(`roq stopped on ${run} (pid ${pid})\n`);
  return 0;
}
