/**
 * Delivery of events (events.ts) to the admin's notify command (`roq start --notify 'PROGRAM ARG…'`, or
 * $ROQ_NOTIFY): the program is run without a shell, once per message, with the message as one line of JSON on its
 * stdin and as ROQ_EVENT_* environment variables, so `mail`, `curl --data-binary @-` and `logger` take it as it
 * comes (docs/OPERATIONS.md, "When roq asks for help"). A command that fails, hangs past its timeout or cannot be
 * started is logged; it never stops the daemon. Messages go out one at a time, in order.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import type { EventMessage } from './events.js';
import { escapeControls } from './log.js';

/** A notify command is killed past this: a mail server that does not answer must not pile up processes. */
export const NOTIFY_TIMEOUT_MS = 10_000;
/** Messages waiting for the command beyond this are dropped (and said so in the log): the command is stuck. */
const MAX_PENDING = 100;

/**
 * The words of a notify command: separated by blanks; a word may be quoted with '…' or "…" to hold blanks. No
 * other shell syntax means anything (no variables, globs, pipes). Undefined when a quote is not closed or there is
 * no word.
 */
export function splitCommand(text: string): string[] | undefined {
  const words: string[] = [];
  const re = /\s*(?:'([^']*)'|"([^"]*)"|([^\s'"]+))/y;
  let word: string | undefined;
  let i = 0;
  while (i < text.length) {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) return /^\s*$/.test(text.slice(i)) ? finish() : undefined;
    const glued = m[0].length > 0 && !/^\s/.test(m[0]) && word !== undefined;
    const piece = m[1] ?? m[2] ?? m[3] ?? '';
    if (glued) word += piece;
    else {
      if (word !== undefined) words.push(word);
      word = piece;
    }
    i = re.lastIndex;
  }
  return finish();
  function finish(): string[] | undefined {
    if (word !== undefined) words.push(word);
    return words.length > 0 ? words : undefined;
  }
}

/** Whether `program` names an executable file: a path, or a name found on $PATH as spawn would find it. */
export function findProgram(program: string, path = process.env.PATH ?? ''): boolean {
  const candidates = program.includes('/') ? [program] : path.split(':').map((dir) => join(dir || '.', program));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/** `word` as splitCommand reads it back as one word. */
export function quoteWord(word: string): string {
  if (word !== '' && !/[\s'"]/.test(word)) return word;
  return word.includes("'") ? `"${word}"` : `'${word}'`;
}

/** The message as the command receives it: JSON on stdin (one line) and these variables. */
export function notifyPayload(m: EventMessage, run: string): { json: string; env: Record<string, string> } {
  const host = hostname();
  const iso = (t: number) => new Date(t).toISOString();
  const full = { ...m, firstSeen: iso(m.firstSeen), lastSeen: iso(m.lastSeen), host, run };
  return {
    json: JSON.stringify(full) + '\n',
    env: {
      ROQ_EVENT_TYPE: m.type,
      ROQ_EVENT_KIND: m.kind,
      ROQ_EVENT_SEVERITY: m.severity,
      ROQ_EVENT_FIRST_SEEN: full.firstSeen,
      ROQ_EVENT_LAST_SEEN: full.lastSeen,
      ROQ_EVENT_COUNT: String(m.count),
      ROQ_EVENT_NEW: String(m.new),
      // A load error may quote bytes of a data file: no terminal escapes reach a mail or a terminal.
      ROQ_EVENT_SENTENCE: escapeControls(m.sentence),
      ROQ_EVENT_HOST: host,
      ROQ_EVENT_RUN: run,
    },
  };
}

/**
 * Runs the command once with the message; resolves with undefined when it exited 0, else with what went wrong
 * (never rejects).
 */
export function runNotify(
  command: string[],
  m: EventMessage,
  run: string,
  timeoutMs = NOTIFY_TIMEOUT_MS,
): Promise<string | undefined> {
  const { json, env } = notifyPayload(m, run);
  return new Promise((done) => {
    let stderr = '';
    const child = spawn(command[0]!, command.slice(1), {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { ...withoutWatchdog(process.env), ...env },
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-300)));
    child.stdin.on('error', () => undefined); // a command that reads nothing closes its stdin: not a failure
    child.on('error', (e) => done(`cannot run it: ${e.message}`));
    child.on('close', (code, signal) => {
      const why =
        signal === 'SIGKILL'
          ? `it ran longer than ${timeoutMs} ms and was killed`
          : code !== 0
            ? `it exited with ${signal ?? `code ${code}`}`
            : undefined;
      done(why && stderr.trim() ? `${why}: ${stderr.trim()}` : why);
    });
    child.stdin.end(json);
  });
}

/**
 * The daemon's environment without systemd's watchdog variables: under NotifyAccess=all, anything the command ran
 * could otherwise ping for a daemon whose loop is stuck.
 */
function withoutWatchdog(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NOTIFY_SOCKET: _s, WATCHDOG_USEC: _u, WATCHDOG_PID: _p, ...rest } = env;
  return rest;
}

export interface Notifier {
  send(messages: EventMessage[]): void;
  /** Resolves once every message handed over so far has been delivered or given up on. */
  idle(): Promise<void>;
}

/** Delivers messages to `command` one at a time; `warn` gets every failure, and the command's absence is silent. */
export function createNotifier(
  command: string[] | undefined,
  run: string,
  warn: (msg: string) => void,
  timeoutMs = NOTIFY_TIMEOUT_MS,
): Notifier {
  let chain: Promise<void> = Promise.resolve();
  let pending = 0;
  return {
    send(messages) {
      if (!command) return;
      for (const m of messages) {
        if (pending >= MAX_PENDING) {
          warn(`notify command: ${m.type} of '${m.kind}' dropped, ${pending} messages wait already: ${m.sentence}`);
          continue;
        }
        pending++;
        chain = chain.then(async () => {
          const failed = await runNotify(command, m, run, timeoutMs);
          pending--;
          if (failed) warn(`notify command '${command[0]}' failed for ${m.type} of '${m.kind}': ${failed}`);
        });
      }
    },
    idle: () => chain,
  };
}
