/**
 * Reloads, as SIGHUP asks for them. The signal handler only records (`request`); the reloader then builds the next
 * generation in a load thread while the current one serves on, and hands the finished generation to `install`,
 * which stages it and writes the swap pseudo-request into REQUESTS. The reload is complete when the dispatcher
 * reads that line: requests read before it are answered from the old generation, requests after it from the new.
 *
 * Signals that arrive during a load coalesce into one more reload after it (the files may have changed again
 * while the first load was reading them), so a burst of SIGHUPs costs at most two loads. A load that fails leaves
 * the current generation serving; the outcome (and the error naming file:line:column) is kept for `roq status`
 * and `roq reload`, which waits for the first reload that started after its signal (`covers`).
 *
 * Holds (`roq reload --hold`), swaps (`roq swap`) and drops (`roq reload --drop-held`) go through the same queue,
 * so a cluster can load new data on every node first and make it current on all of them at once (see
 * deploy/refresh-cluster.sh); they are asked for by files in the run directory (actions.ts), not by SIGHUP.
 */
import { roqError, type RoqError } from '../errors.js';
import type { GenerationData } from '../store/types.js';
import {
  generationFacts,
  type HeldGeneration,
  type HoldAction,
  type ReloadOutcome,
  type ReloadState,
} from '../control/status.js';
import type { Generations } from '../daemon/generations.js';
import type { Log } from '../daemon/log.js';
import { expiredWarning, rangeText, todayIn } from '../valid-dates.js';

/**
 * Warns in the log when the serving generation's data ends before today (in the data's time zone): once when it
 * is loaded, and again each day it keeps serving, so a daemon that runs past its data's last day says so that day,
 * not only at the next reload. Call it as often as wanted (the daemon does, every second).
 */
export function createExpiryWarner(log: Log): (g: GenerationData) => void {
  let warned = '';
  return (g) => {
    const day = todayIn(g.dates);
    if (warned === `${g.id} ${day}`) return;
    warned = `${g.id} ${day}`;
    const warning = expiredWarning(g.dates);
    if (warning) log.warn(`generation ${g.id}: ${warning}`);
  };
}

export interface Reloader {
  /** Records one reload request; safe to call from a signal handler. */
  request(): void;
  /** Queues a hold, swap or drop asked for by admin request `id`; they run in order, after any load running. */
  act(action: HoldAction, id: string): void;
  state(): ReloadState;
  /** Stops starting loads; a load in progress is abandoned. */
  close(): void;
}

export interface ReloaderOptions {
  log: Log;
  /** Builds generation `id` (normally in the load thread). */
  load(id: number): Promise<GenerationData>;
  nextId(): number;
  /** Where a held generation is kept: the generations registry (generations.ts). */
  holder: Pick<Generations, 'hold' | 'held' | 'takeHeld'>;
  /** Stages the generation and resolves once it serves (the swap line was read), or rejects. */
  install(g: GenerationData): Promise<void>;
  /** A held generation was let go without serving (dropped, or replaced by a newer hold): free its memory. */
  discarded?(g: GenerationData): void;
  /** The state changed: a request was counted or a reload ended. */
  changed(): void;
  /** For error messages. */
  run: string;
}

const RECENT = 16;

type Task = { action: 'reload' | HoldAction; covers: number; request?: string };

function heldOf(g: GenerationData): HeldGeneration {
  return { ...generationFacts(g), files: g.stats.files };
}

/** A finished task as `roq status` and `roq reload` read it. */
function outcomeOf(
  t: Task,
  startedAt: number,
  result: { status: 'ok' | 'failed'; g?: GenerationData; error?: RoqError },
): ReloadOutcome {
  const finishedAt = Date.now();
  const out: ReloadOutcome = {
    covers: t.action === 'reload' ? t.covers : 0,
    status: result.status,
    startedAt,
    finishedAt,
    ms: finishedAt - startedAt,
  };
  if (t.action !== 'reload') out.action = t.action;
  if (t.request !== undefined) out.request = t.request;
  const g = result.g;
  if (g)
    Object.assign(out, {
      generation: g.id,
      hash: g.hash,
      rows: g.stats.rows,
      bytes: g.stats.bytes,
      files: g.stats.files,
      ...(g.dates ? { dates: g.dates } : {}),
    });
  if (result.error) out.error = { code: result.error.code ?? 'ROQ_LOAD_FILE', message: result.error.message };
  return out;
}

/**
 * Runs one task; resolves with the generation it concerned (none for a drop of nothing), or undefined when the
 * reloader was closed meanwhile; rejects with the task's error.
 */
async function runTask(
  t: Task,
  o: ReloaderOptions,
  load: () => Promise<GenerationData>,
  closed: () => boolean,
): Promise<{ g?: GenerationData } | undefined> {
  switch (t.action) {
    case 'reload': {
      const g = await load();
      if (closed()) return undefined;
      await o.install(g);
      o.log.info(
        `reload: generation ${g.id} serving (${g.stats.rows} rows from ${g.stats.files.length} files, hash ${g.hash}, loaded in ${Math.round(g.loadMs)} ms${g.dates ? `; dates ${rangeText(g.dates)}` : ''})`,
      );
      return { g };
    }
    case 'hold': {
      const g = await load();
      if (closed()) return undefined;
      const before = o.holder.hold(g);
      if (before) o.discarded?.(before);
      o.log.info(
        `hold: generation ${g.id} loaded and held, not serving (${g.stats.rows} rows, hash ${g.hash}); \`roq swap\` makes it current`,
      );
      return { g };
    }
    case 'swap': {
      const g = o.holder.takeHeld();
      if (!g) throw roqError('ROQ_NOTHING_HELD', { run: o.run });
      await o.install(g);
      o.log.info(`swap: held generation ${g.id} serving (hash ${g.hash})`);
      return { g };
    }
    case 'drop': {
      const g = o.holder.takeHeld();
      if (g) o.discarded?.(g);
      o.log.info(g ? `drop: held generation ${g.id} dropped` : 'drop: no generation was held');
      return g ? { g } : {};
    }
    default: {
      const never: never = t.action;
      throw new Error(`unknown reloader task ${String(never)}`);
    }
  }
}

/**
 * The reloader's tasks run one at a time, in the order asked: plain reloads (coalesced while one is waiting),
 * and holds, swaps and drops. A hold loads like a reload but keeps the generation instead of installing it; a swap
 * installs the held generation through the same swap line as a reload; a failed hold leaves everything as it was,
 * including an earlier held generation.
 */
export function createReloader(o: ReloaderOptions): Reloader {
  return new TaskReloader(o);
}

class TaskReloader implements Reloader {
  private readonly o: ReloaderOptions;
  private requested = 0;
  private busy = false;
  private loading = false;
  private closed = false;
  private last: ReloadOutcome | undefined;
  private readonly recent: ReloadOutcome[] = [];
  private readonly queue: Task[] = [];

  constructor(o: ReloaderOptions) {
    this.o = o;
  }

  request(): void {
    if (this.closed) return;
    this.requested++;
    // Signals that arrive while a reload waits its turn join it: the files are read when it starts.
    const waiting = this.queue[this.queue.length - 1];
    if (waiting?.action === 'reload') waiting.covers = this.requested;
    else this.queue.push({ action: 'reload', covers: this.requested });
    this.pump();
    this.o.changed();
  }

  act(action: HoldAction, id: string): void {
    if (this.closed) return;
    this.queue.push({ action, covers: this.requested, request: id });
    this.pump();
    this.o.changed();
  }

  state(): ReloadState {
    const held = this.o.holder.held();
    return {
      requested: this.requested,
      loading: this.loading || this.queue.some((t) => t.action === 'reload' || t.action === 'hold'),
      ...(this.last ? { last: this.last } : {}),
      recent: [...this.recent],
      ...(held ? { held: heldOf(held) } : {}),
    };
  }

  close(): void {
    this.closed = true;
  }

  private record(out: ReloadOutcome): void {
    this.last = out;
    this.recent.push(out);
    if (this.recent.length > RECENT) this.recent.shift();
  }

  private async load(): Promise<GenerationData> {
    this.loading = true;
    this.o.changed();
    const id = this.o.nextId();
    this.o.log.info(`reload: loading generation ${id} in the background`);
    try {
      return await this.o.load(id);
    } finally {
      this.loading = false;
    }
  }

  private async perform(t: Task): Promise<void> {
    const startedAt = Date.now();
    try {
      const result = await runTask(
        t,
        this.o,
        () => this.load(),
        () => this.closed,
      );
      if (result) this.record(outcomeOf(t, startedAt, { status: 'ok', ...result }));
    } catch (e) {
      const err = e as RoqError;
      this.record(outcomeOf(t, startedAt, { status: 'failed', error: err }));
      this.o.log.error(
        `${t.action} failed; the current generation serves on${t.action === 'hold' && this.o.holder.held() ? ' and the one held stays held' : ''}: ${err.message}`,
      );
    }
  }

  private pump(): void {
    if (this.busy || this.closed) return;
    const t = this.queue.shift();
    if (!t) return;
    this.busy = true;
    void this.perform(t).finally(() => {
      this.busy = false;
      if (this.closed) return;
      this.o.changed();
      this.pump();
    });
  }
}
