/**
 * The daemon's edge for events worth a human (events.ts): once a second it hands the events module what the daemon
 * knows, writes each message it returns into the daemon's log and gives it to the notify command (notify.ts); it
 * also keeps the summary that status.json (`roq health`) and the health ping (`/_health`) say.
 */
import { today } from '../dates.js';
import type { StatusFile } from '../control/status.js';
import { isAlive } from '../control/lifecycle.js';
import {
  activeEvents,
  adopt,
  age,
  createEvents,
  healthState,
  observe,
  rates,
  record,
  type ActiveEvent,
  type EventMessage,
  type HealthState,
  type Observation,
  type Rates,
} from './events.js';
import type { Log } from './log.js';
import { createNotifier } from './notify.js';

/** What status.json says of the daemon's health (`roq health` reads it). */
export interface HealthSummary {
  state: HealthState;
  events: ActiveEvent[];
  perMinute: Rates;
}

export interface Watch {
  /** The second's observation (without `now` and `today`, which are taken here). */
  tick(o: Omit<Observation, 'now' | 'today'>): void;
  summary(): HealthSummary;
  /** Resolves once the messages handed to the notify command so far are delivered or given up on. */
  idle(): Promise<void>;
}

export interface WatchOptions {
  run: string;
  log: Log;
  notify: string[] | undefined;
  intervalMs: number;
  /** The app's word for its data, in sentences ("the data ended on …"). */
  dataNoun: string;
}

/**
 * `previous`: the status.json found in the private directory at start, before this daemon wrote its own: a
 * predecessor's being taken over, or one left behind. A daemon that stops removes its file, so one left by a pid
 * that no longer runs is the trace of an unclean stop (kill -9, a crash, the machine's power, systemd's watchdog).
 * Either way, the events it had told of are not told again (events.adopt).
 */
export function createWatch(o: WatchOptions, previous: StatusFile | undefined): Watch {
  const state = createEvents(o.intervalMs, o.dataNoun);
  if (previous?.health) adopt(state, previous.health.events, Date.now());
  const notifier = createNotifier(o.notify, o.run, (m) => o.log.warn(m));
  const deliver = (messages: EventMessage[]) => {
    for (const m of messages) {
      const seen = m.count > 1 ? `, seen ${m.count} times` : '';
      const line = `${m.type === 'event' ? 'event' : `event ${m.type}`}: ${m.kind} (${m.severity}${seen}): ${m.sentence}`;
      if (m.type === 'resolved') o.log.info(line);
      else o.log.warn(line);
    }
    notifier.send(messages);
  };
  if (previous && previous.pid !== process.pid && !isAlive(previous.pid)) {
    const sentence = `the daemon started after an unclean stop: pid ${previous.pid} stopped without saying so ${age(Date.now() - previous.updatedAt)} ago (at ${new Date(previous.updatedAt).toISOString()}); its last log lines in the daemon's log say why, if it could tell`;
    deliver(record(state, Date.now(), 'unclean-stop', sentence));
  }
  return {
    tick(facts) {
      // Today where the data's dates are meant (the generation's zone), as every other date check takes it.
      deliver(observe(state, { ...facts, now: Date.now(), today: today(new Date(), facts.generation.dates?.zone) }));
    },
    summary: () => ({ state: healthState(state), events: activeEvents(state), perMinute: rates(state) }),
    idle: () => notifier.idle(),
  };
}
