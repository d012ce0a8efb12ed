/**
 * Option parsing shared by the subcommands: node:util parseArgs in strict mode, with every mistake turned into
 * ROQ_USAGE naming the subcommand, and the defaults an admin expects for the run and data directories.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { APP_INFO } from '../app/app.js';
import { roqError } from '../errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export const RUN_OPTION: Options = { run: { type: 'string' } };

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parseCommand(
  command: string,
  argv: string[],
  options: Options,
  allowPositionals = false,
  hint?: (option: string) => string | undefined,
): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
    return { values: values as Parsed['values'], positionals };
  } catch (e) {
    throw roqError('ROQ_USAGE', { command, detail: usageDetail(e as Error & { code?: string }, hint) });
  }
}

/** parseArgs' complaint in roq's words: the option at fault and, where the caller knows one, what was meant. */
function usageDetail(e: Error & { code?: string }, hint?: (option: string) => string | undefined): string {
  const option = /'(-[^' ]*)/.exec(e.message)?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${option}'${hint?.(option) ? `: ${hint(option)}` : ''}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(e.message)
        ? `option '${option}' needs a value`
        : `option '${option}' takes no value`;
    default:
      return e.message.split('\n')[0]!;
  }
}

/** --run, else $ROQ_RUN_DIR, else ./run; always absolute, since the daemon runs from /. */
export function runDir(value: string | boolean | undefined): string {
  return resolve(typeof value === 'string' ? value : process.env.ROQ_RUN_DIR || 'run');
}

/** --data, else $ROQ_DATA_DIR, else the app's data directory (app.json's `data`, default ./data); always absolute. */
export function dataDir(value: string | boolean | undefined): string {
  return resolve(typeof value === 'string' ? value : process.env.ROQ_DATA_DIR || APP_INFO.dataDir);
}

/** A command that talks to a daemon needs its run directory to exist; a typo there is not a lock or FIFO error. */
export function requireRunDir(run: string): string {
  if (!existsSync(run)) throw roqError('ROQ_RUN_DIR_MISSING', { run });
  return run;
}

export function defaultWorkers(): number {
  return availableParallelism();
}

/** An integer option within [min, max], or its default when absent. */
export function intOption(
  command: string,
  name: string,
  value: string | boolean | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max))
    throw roqError('ROQ_USAGE', {
      command,
      detail: `--${name} must be a whole number from ${min} to ${max}, got '${String(value)}'`,
    });
  return n;
}
