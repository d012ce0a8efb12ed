/**
 * Performs the core's effects (core.ts), in the order the core asked for them: each goes to the edge that owns
 * the resource — threads and timers to the pool, REQUESTS to the dispatcher, answer FIFOs (fifo.ts), the access
 * log, the daemon's log — or back to the daemon (a generation staged, the workers started, stopped).
 *
 * Performing an effect may bring another event into the core (stopping drains what was read into `line`); the
 * core has finished with the event before its effects are performed, so that is safe.
 */
import { mainThreadResponse } from '../web/web.js';
import { encodeAnswer } from '../protocol.js';
import { encodeWebAnswer } from '../web-protocol.js';
import type { AccessLog } from './access-log.js';
import { createAnswerDrain, type AnswerRest } from './answer-drain.js';
import type { Effect, Warner } from './effect-types.js';
import type { Dispatcher } from './dispatcher.js';
import { writeAnswer } from './fifo.js';
import { rateLimited, type Log } from './log.js';
import type { Pool } from './pool.js';

export interface EffectTargets {
  run: string;
  /** How long the rest of an answer waits for its client to read it (answer-drain.ts). */
  answerBudgetMs: number;
  log: Log;
  accessLog: AccessLog;
  /** A generation was dropped from the workers: a full collection soon (see daemon.enableGc). */
  collect(): void;
  /** The first workers are ready, or one died while starting. */
  started(error: string | undefined): void;
  /** A staged generation serves, or never will. */
  staged(id: number, error: string | undefined): void;
  /** Everything read before the stop line is answered. */
  stopped(): void;
}

export interface Effects {
  perform(effects: Effect[]): void;
  /** The rest of an answer a worker could not write at once, written here as its client reads. */
  rest(rest: AnswerRest): void;
  /** Resolves once every rest is written or dropped (within the answer budget). */
  restsWritten(): Promise<void>;
  /** The pool exists from the start; the dispatcher once the daemon reads REQUESTS. */
  connect(edges: { pool?: Pool; dispatcher?: Dispatcher }): void;
}

export function createEffects(t: EffectTargets): Effects {
  // Anyone who may write into REQUESTS can cause warnings (garbage, undelivered answers): they are rate-limited,
  // with a budget for what writers cause and one for what jobs cause, so a flood of garbage hides no deadline.
  const warn: Record<Warner, (msg: string) => void> = { requests: rateLimited(t.log), workers: rateLimited(t.log) };
  let pool: Pool | undefined;
  let dispatcher: Dispatcher | undefined;
  const drain = createAnswerDrain(t.answerBudgetMs, (pid, reason) =>
    warn.workers(`answer to pid ${pid} not delivered: ${reason}`),
  );

  /** REQUESTS is read only once the daemon holds the lock; no effect before that concerns it. */
  function requests(): Dispatcher {
    if (!dispatcher) throw new Error('an effect on REQUESTS before the daemon reads it');
    return dispatcher;
  }

  function answer(e: Extract<Effect, { kind: 'answer' }>): void {
    const bytes = e.web
      ? encodeWebAnswer(e.proof!, mainThreadResponse(e.web, e.answer))
      : encodeAnswer(e.answer, e.proof);
    const d = writeAnswer(t.run, e.pid, e.token, bytes, drain.add);
    if (!d.sent)
      warn[e.about](
        `${e.answer.status === 'ok' ? 'health' : e.answer.code} answer to pid ${e.pid} not delivered: ${d.reason}`,
      );
  }

  function perform1(e: Effect): void {
    switch (e.kind) {
      case 'post':
      case 'arm':
      case 'disarm':
      case 'terminate':
      case 'spawn':
        return pool!.apply(e);
      case 'answer':
        return answer(e);
      case 'dropped':
        return t.collect();
      case 'writeControl':
        return requests().writeControl(e.word, e.token);
      case 'stopReading':
        return requests().stopReading();
      case 'stopped':
        requests().close();
        return t.stopped();
      case 'accessLog':
        return t.accessLog.write(e.job, e.outcome, e.report);
      case 'log':
        return e.level === 'warn' ? warn[e.about](e.message) : t.log[e.level](e.message);
      case 'staged':
        return t.staged(e.id, e.error);
      case 'started':
        return t.started(e.error);
      default: {
        const never: never = e;
        throw new Error(`unknown effect ${JSON.stringify(never)}`);
      }
    }
  }

  return {
    perform(effects) {
      for (const e of effects) perform1(e);
    },
    connect(edges) {
      pool = edges.pool ?? pool;
      dispatcher = edges.dispatcher ?? dispatcher;
    },
    rest: drain.add,
    restsWritten: drain.idle,
  };
}
