/**
 * Events worth a human: what the daemon sees going seriously wrong, folded into few messages for the admin's notify
 * command (notify.ts), and summed up as one state for `roq health`, status.json and `/_health`.
 *
 * Plain functions over plain state, no I/O and no timer: the daemon calls `observe` once a second with what it
 * knows (counters, the serving data's dates, the last reload, REQUESTS), and `record` for the one-off facts of its
 * start; each returns the messages to deliver. So a test replays hours of a daemon's life with function calls.
 *
 * An event has a kind, a severity, a first-seen and last-seen time, a count and a plain sentence. Kinds are of two
 * sorts: a condition (the data has ended, the last reload failed, REQUESTS cannot be reached) lasts until what
 * `observe` is told says it is over; an occurrence (workers dying, refusals, garbage, an unclean stop) is over once
 * a whole interval passes without one. Folding: the first sighting of a kind is one message at once; repeats within
 * the interval only count, and a digest says how many at the end of it; a condition still true a day later is said
 * again; the end of either is one "resolved" message.
 */
import { daysBetween } from '../dates.js';
import type { DateRange } from '../protocol.js';
import type { Counters, RequestsState, ReloadOutcome } from '../control/status.js';

export type Severity = 'critical' | 'warning';
export type EventKind =
  | 'data-ended'
  | 'data-ending'
  | 'reload-failed'
  | 'workers-failing'
  | 'busy'
  | 'garbage'
  | 'unclean-stop'
  | 'requests-unreachable'
  | 'requests-replaced'
  /** Said from outside the daemon: by `roq health --restart` or systemd's OnFailure= (`roq health --failed`). */
  | 'daemon-died';

/** Every kind with its severity: docs/OPERATIONS.md ("When roq asks for help") lists them with what to do. */
export const EVENT_SEVERITY: Readonly<Record<EventKind, Severity>> = {
  'data-ended': 'critical',
  'data-ending': 'warning',
  'reload-failed': 'warning',
  'workers-failing': 'critical',
  busy: 'warning',
  garbage: 'warning',
  'unclean-stop': 'warning',
  'requests-unreachable': 'critical',
  'requests-replaced': 'warning',
  'daemon-died': 'critical',
};

/** One message for the notify command: the first sighting, a digest of repeats, or the end of an event. */
export interface EventMessage {
  type: 'event' | 'digest' | 'resolved';
  kind: EventKind;
  severity: Severity;
  /** Milliseconds since the epoch. */
  firstSeen: number;
  lastSeen: number;
  /** Sightings since the first one; `new`: since the previous message. */
  count: number;
  new: number;
  sentence: string;
}

/** An event that has not ended, as status.json and `roq health` show it. */
export interface ActiveEvent {
  kind: EventKind;
  severity: Severity;
  firstSeen: number;
  lastSeen: number;
  count: number;
  sentence: string;
}

export type HealthState = 'ok' | 'warning' | 'critical';

/** Per minute, over the last minute: what the rate thresholds are measured on, and what `roq health` prints. */
export interface Rates {
  /** Server-side failures: queries failed, timed out, lost with a dead worker, or refused as busy. */
  errors: number;
  workerFailures: number;
  busy: number;
  dropped: number;
}

/** Above these many a minute, the occurrence is an event (a single one is the daemon coping, as designed). */
export const RATE_THRESHOLDS = { workerFailures: 3, busy: 10, dropped: 30 } as const;
/** The data-ending warning starts this many days before the data's last day. */
export const ENDING_WARNING_DAYS = 7;
const MINUTE_MS = 60_000;
const REMIND_MS = 24 * 3600_000;

interface Tracked extends ActiveEvent {
  condition: boolean;
  /** `count` when the last message went out, and when that was. */
  reported: number;
  messagedAt: number;
  /** What makes a repeat of a condition a new sighting (a reload failing again), not the same one seen again. */
  key: string;
}

export interface EventsState {
  intervalMs: number;
  /** What the data is called in sentences ("the data ended on …"): the app's word, else "data". */
  dataNoun: string;
  tracked: Map<EventKind, Tracked>;
  /** Counter samples of the last minute, oldest first. */
  samples: { at: number; c: Counters }[];
  /** The last replacement of REQUESTS said (the watcher keeps saying it after the event has ended). */
  replaced?: string;
}

export function createEvents(intervalMs: number, dataNoun = 'data'): EventsState {
  return { intervalMs, dataNoun, tracked: new Map(), samples: [] };
}

/** What the daemon knows once a second. */
export interface Observation {
  now: number;
  /** YYYY-MM-DD in the data's time zone (the generation's DateRange.zone), else the server's. */
  today: string;
  counters: Counters;
  generation: { id: number; loadedAt: number; dates?: DateRange | undefined };
  lastReload?: ReloadOutcome | undefined;
  requests: RequestsState;
}

/**
 * The events a predecessor had told of (from its status.json: a daemon taken over, or one that died), taken on as
 * already said, so that an upgrade or a restart does not tell the admin again; they end here as they would have
 * there.
 */
export function adopt(s: EventsState, events: readonly ActiveEvent[], now: number): void {
  for (const e of events) {
    if (!(e.kind in EVENT_SEVERITY) || s.tracked.has(e.kind)) continue;
    const condition = CONDITIONS.has(e.kind);
    s.tracked.set(e.kind, { ...e, condition, reported: e.count, messagedAt: now, key: condition ? ADOPTED : '' });
  }
}

/** The kinds that last until `observe` is told they are over (the others end after a quiet interval). */
const CONDITIONS: ReadonlySet<EventKind> = new Set([
  'data-ended',
  'data-ending',
  'reload-failed',
  'requests-unreachable',
]);
/** The key of an adopted event: its next sighting is the same one seen again, not a new one. */
const ADOPTED = '\0adopted';

/** A one-off fact (an unclean stop seen at start): one sighting of an occurrence kind. */
export function record(s: EventsState, now: number, kind: EventKind, sentence: string): EventMessage[] {
  const out: EventMessage[] = [];
  sight(s, out, now, kind, sentence, false, String(now), 1);
  return out;
}

/** Takes a second's observation: raises, folds and resolves; returns the messages to deliver, in order. */
export function observe(s: EventsState, o: Observation): EventMessage[] {
  const out: EventMessage[] = [];
  observeDates(s, out, o);
  observeReload(s, out, o);
  observeRequests(s, out, o);
  observeRates(s, out, o);
  fold(s, out, o.now);
  return out;
}

/** The worst severity among the events that have not ended. */
export function healthState(s: EventsState): HealthState {
  let state: HealthState = 'ok';
  for (const t of s.tracked.values()) if (t.severity === 'critical' || state === 'ok') state = t.severity;
  return state;
}

/** The events that have not ended, the worst first. */
export function activeEvents(s: EventsState): ActiveEvent[] {
  return [...s.tracked.values()]
    .sort((a, b) => (a.severity === b.severity ? a.firstSeen - b.firstSeen : a.severity === 'critical' ? -1 : 1))
    .map(({ kind, severity, firstSeen, lastSeen, count, sentence }) => ({
      kind,
      severity,
      firstSeen,
      lastSeen,
      count,
      sentence,
    }));
}

/** Rates over the last minute of samples (a daemon up for less than a minute: over its life so far). */
export function rates(s: EventsState): Rates {
  const first = s.samples[0],
    last = s.samples[s.samples.length - 1];
  if (!first || !last) return { errors: 0, workerFailures: 0, busy: 0, dropped: 0 };
  const d = (k: keyof Counters) => last.c[k] - first.c[k];
  return {
    errors: d('failed') + d('timeout') + d('died') + d('busy'),
    workerFailures: d('timeout') + d('died'),
    busy: d('busy'),
    dropped: d('dropped'),
  };
}

/** "3 d 4 h", "5 h 2 min", "40 s": how old something is, for sentences. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

// ---- what each observation raises or ends ----

function observeDates(s: EventsState, out: EventMessage[], o: Observation): void {
  const end = o.generation.dates?.end;
  const left = end === undefined ? undefined : daysBetween(o.today, end);
  if (left !== undefined && left < 0) {
    const sentence = `the ${s.dataNoun} ended on ${end}: questions about today (${o.today}) find nothing; load newer data (roq reload)`;
    sight(s, out, o.now, 'data-ended', sentence, true, end!);
  } else settle(s, out, o.now, 'data-ended');
  if (left !== undefined && left >= 0 && left <= ENDING_WARNING_DAYS) {
    const when = left === 0 ? 'today' : left === 1 ? 'tomorrow' : `in ${left} days`;
    const sentence = `the ${s.dataNoun} ends on ${end} (${when}); load newer data before then (roq reload)`;
    sight(s, out, o.now, 'data-ending', sentence, true, end!);
  } else settle(s, out, o.now, 'data-ending');
}

function observeReload(s: EventsState, out: EventMessage[], o: Observation): void {
  const last = o.lastReload;
  if (last?.status !== 'failed') return settle(s, out, o.now, 'reload-failed');
  const what = last.action ? `the ${last.action} of new data` : 'reloading the data';
  const sentence = `${what} failed: ${last.error?.message ?? 'no reason given'}; generation ${o.generation.id}, loaded ${age(o.now - o.generation.loadedAt)} ago, serves on`;
  sight(s, out, o.now, 'reload-failed', sentence, true, String(last.finishedAt));
}

/**
 * REQUESTS unusable is a condition; REQUESTS replaced (by an admin, or by a file of another user, which the daemon
 * removes as untrusted) and made again is an occurrence: the web reaches the daemon, but someone touched it. The
 * watcher keeps saying the last replacement, so only a new one is a new sighting.
 */
function observeRequests(s: EventsState, out: EventMessage[], o: Observation): void {
  const r = o.requests;
  if (r.ok) settle(s, out, o.now, 'requests-unreachable');
  else sight(s, out, o.now, 'requests-unreachable', `clients cannot reach the daemon: ${r.detail}`, true, '');
  if (r.ok && r.detail && r.detail !== s.replaced) {
    s.replaced = r.detail;
    const sentence = `${r.detail}; the daemon reads a FIFO of its own there now: find out who touched it`;
    sight(s, out, o.now, 'requests-replaced', sentence, false, r.detail);
  }
}

function observeRates(s: EventsState, out: EventMessage[], o: Observation): void {
  const prev = s.samples[s.samples.length - 1]?.c;
  s.samples.push({ at: o.now, c: o.counters });
  while (s.samples.length > 2 && s.samples[1]!.at <= o.now - MINUTE_MS) s.samples.shift();
  if (!prev) return;
  const r = rates(s);
  const d = (k: keyof Counters) => o.counters[k] - prev[k];
  // Raised, the event counts every occurrence of the minute that made it; then each new one.
  const rate = (kind: EventKind, perMinute: number, threshold: number, fresh: number, sentence: string) => {
    if (fresh > 0 && (perMinute >= threshold || s.tracked.has(kind)))
      sight(s, out, o.now, kind, sentence, false, String(o.now), s.tracked.has(kind) ? fresh : perMinute);
  };
  rate(
    'workers-failing',
    r.workerFailures,
    RATE_THRESHOLDS.workerFailures,
    d('died') + d('timeout'),
    `${r.workerFailures} queries in the last minute killed their worker or passed their deadline (each costs its client an error page); see the daemon's log for the query and its parameters`,
  );
  rate(
    'busy',
    r.busy,
    RATE_THRESHOLDS.busy,
    d('busy'),
    `${r.busy} requests in the last minute were refused as busy: the queue was full; more workers (--workers) or fewer clients`,
  );
  rate(
    'garbage',
    r.dropped,
    RATE_THRESHOLDS.dropped,
    d('dropped'),
    `${r.dropped} lines in the last minute written into REQUESTS were garbage or refused: a broken or hostile writer in the web server's group`,
  );
}

// ---- folding ----

/** One more sighting of `kind`: a message if it is new, else counted (a condition seen again counts if `key` moved). */
function sight(
  s: EventsState,
  out: EventMessage[],
  now: number,
  kind: EventKind,
  sentence: string,
  condition: boolean,
  key: string,
  n = 1,
): void {
  const t = s.tracked.get(kind);
  if (!t) {
    const fresh: Tracked = {
      kind,
      severity: EVENT_SEVERITY[kind],
      firstSeen: now,
      lastSeen: now,
      count: n,
      sentence,
      condition,
      reported: n,
      messagedAt: now,
      key,
    };
    s.tracked.set(kind, fresh);
    out.push(message('event', fresh, n));
    return;
  }
  t.sentence = sentence;
  if (t.key === key || t.key === ADOPTED) return void (t.key = key);
  t.key = key;
  t.count += n;
  t.lastSeen = now;
}

/** A condition is over: resolved, if it was an event. */
function settle(s: EventsState, out: EventMessage[], now: number, kind: EventKind): void {
  const t = s.tracked.get(kind);
  if (!t?.condition) return;
  resolve(s, out, now, t);
}

function resolve(s: EventsState, out: EventMessage[], now: number, t: Tracked): void {
  s.tracked.delete(t.kind);
  out.push({ ...message('resolved', t, t.count - t.reported), lastSeen: t.lastSeen });
  t.messagedAt = now;
}

/** At most one message per kind per interval: digests of repeats, reminders of conditions, quiet occurrences ended. */
function fold(s: EventsState, out: EventMessage[], now: number): void {
  for (const t of [...s.tracked.values()]) {
    const due = now - t.messagedAt >= s.intervalMs;
    if (!t.condition && now - t.lastSeen >= s.intervalMs && due) resolve(s, out, now, t);
    else if (due && (t.count > t.reported || (t.condition && now - t.messagedAt >= REMIND_MS))) {
      out.push(message('digest', t, t.count - t.reported));
      t.reported = t.count;
      t.messagedAt = now;
    }
  }
}

function message(type: EventMessage['type'], t: Tracked, fresh: number): EventMessage {
  return {
    type,
    kind: t.kind,
    severity: t.severity,
    firstSeen: t.firstSeen,
    lastSeen: t.lastSeen,
    count: t.count,
    new: fresh,
    sentence: t.sentence,
  };
}
