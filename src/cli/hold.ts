/**
 * `roq reload --hold`, `roq reload --drop-held` and `roq swap`: the admin requests of a cluster refresh. Each
 * writes its request into the run directory, sends the daemon SIGWINCH (see server/actions.ts), and waits for
 * the outcome tagged with its request id in status.json, so that a script learns whether every node holds the
 * same data (by the content hash printed) before any of them serves it.
 */
import { pollUntil } from '../poll.js';
import { roqError } from '../errors.js';
import { ACTION_SIGNAL, withdrawActionRequest, writeActionRequest } from '../control/actions.js';
import { isAlive, runningPid } from '../control/lifecycle.js';
import type { HoldAction, ReloadOutcome } from '../control/status.js';
import { readStatusFile } from '../control/status.js';
import { intOption, parseCommand, RUN_OPTION, runDir } from './options.js';
import { fileLines } from './file-table.js';

export const SWAP_HELP = `usage: roq swap [--run DIR] [--timeout MS]

Makes the generation loaded by \`roq reload --hold\` current, through the same swap point in the stream of requests
as a reload: requests read before it are answered from the old data, every one after it from the new. Prints the
generation and its content hash; exits 1 with ROQ_NOTHING_HELD when nothing is held.

  --run DIR       run directory (default $ROQ_RUN_DIR, else ./run)
  --timeout MS    how long to wait for the outcome (default 60000)
`;

const POLL_MS = 20;

function describe(run: string, r: ReloadOutcome): string {
  const files = fileLines(r.files ?? [])
    .map((line) => `${line}\n`)
    .join('');
  switch (r.action) {
    case 'hold':
      return `roq holds generation ${r.generation} on ${run}: hash ${r.hash}, ${r.rows} rows from ${r.files?.length ?? 0} files in ${r.ms} ms; not serving until \`roq swap\`\n${files}`;
    case 'swap':
      return `roq swapped on ${run}: generation ${r.generation} serving, hash ${r.hash}, ${r.rows} rows\n`;
    default:
      return r.generation === undefined
        ? `roq on ${run}: no generation was held\n`
        : `roq dropped held generation ${r.generation} (hash ${r.hash}) on ${run}\n`;
  }
}

/** Asks the daemon on `run` for `action` and waits for its outcome; prints it, or throws the failure. */
export async function holdAction(run: string, action: HoldAction, timeoutMs: number): Promise<number> {
  const pid = runningPid(run);
  if (pid === undefined) throw roqError('ROQ_NOT_RUNNING', { run });
  const giveUp = Date.now() + timeoutMs;
  const id = writeActionRequest(run, action);
  try {
    process.kill(pid, ACTION_SIGNAL);
    const out = await pollUntil(
      () => {
        const found = readStatusFile(run, pid)?.reload.recent?.find((r) => r.request === id);
        if (!found && !isAlive(pid))
          throw roqError('ROQ_RELOAD_FAILED', {
            run,
            detail: `the daemon (pid ${pid}) stopped before the ${action} finished`,
          });
        return found;
      },
      POLL_MS,
      giveUp,
    );
    if (!out) throw roqError('ROQ_RELOAD_TIMEOUT', { run, ms: timeoutMs });
    if (out.status === 'failed') {
      if (out.error?.code === 'ROQ_NOTHING_HELD') throw roqError('ROQ_NOTHING_HELD', { run });
      throw roqError('ROQ_RELOAD_FAILED', { run, detail: out.error?.message ?? 'unknown error' });
    }
    process.stdout.write(describe(run, out));
    return 0;
  } finally {
    withdrawActionRequest(run, id);
  }
}

export async function swap(argv: string[]): Promise<number> {
  const { values } = parseCommand('swap', argv, { ...RUN_OPTION, timeout: { type: 'string' } });
  if (values.help) return (void process.stdout.write(SWAP_HELP), 0);
  return holdAction(runDir(values.run), 'swap', intOption('swap', 'timeout', values.timeout, 60_000, 100, 86_400_000));
}
