/**
 * The events module alone (src/daemon/events.ts): hours of a daemon's life replayed with function calls, so the
 * folding rules are checked exactly — one message per kind per interval, digests of repeats, resolved when the
 * condition ends or an interval passes quietly — and the notify command's words (src/daemon/notify.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Counters } from '../../src/control/status.js';
import {
  activeEvents,
  adopt,
  createEvents,
  healthState,
  observe,
  record,
  type EventMessage,
  type Observation,
} from '../../src/daemon/events.js';
import { quoteWord, splitCommand } from '../../src/daemon/notify.js';
import { daysBetween } from '../../src/dates.js';

const ZERO: Counters = { received: 0, ok: 0, error: 0, failed: 0, timeout: 0, died: 0, busy: 0, dropped: 0 };
const T0 = Date.parse('2026-12-07T03:00:00Z');
const MIN = 60_000;

function at(ms: number, over: Partial<Observation> = {}, counters: Partial<Counters> = {}): Observation {
  return {
    now: T0 + ms,
    today: '2026-12-07',
    counters: { ...ZERO, ...counters },
    generation: { id: 1, loadedAt: T0 - 3600_000, dates: { start: '2026-11-01', end: '2027-03-01' } },
    requests: { ok: true },
    ...over,
  };
}

const brief = (ms: EventMessage[]) => ms.map((m) => `${m.type} ${m.kind} ${m.count}/${m.new}`);

describe('events: conditions', () => {
  it("says data ended once, in the app's word, reminds a day later, and resolves when newer data serves", () => {
    const s = createEvents(10 * MIN, 'timetable');
    const ended = { generation: { id: 1, loadedAt: T0, dates: { start: '2026-09-21', end: '2026-11-08' } } };
    const first = observe(s, at(0, ended));
    expect(brief(first)).toEqual(['event data-ended 1/1']);
    expect(first[0]!.severity).toBe('critical');
    expect(first[0]!.sentence).toMatch(/^the timetable ended on 2026-11-08: questions about today \(2026-12-07\)/);
    expect(healthState(s)).toBe('critical');
    for (let t = 1000; t < 3600_000; t += 1000) expect(observe(s, at(t, ended))).toEqual([]);
    expect(brief(observe(s, at(24 * 3600_000, ended)))).toEqual(['digest data-ended 1/0']);
    expect(brief(observe(s, at(24 * 3600_000 + 1000)))).toEqual(['resolved data-ended 1/0']);
    expect(healthState(s)).toBe('ok');
  });

  it('warns N days before the data ends, and says so in words', () => {
    const s = createEvents(MIN);
    const ending = { generation: { id: 1, loadedAt: T0, dates: { start: '2026-11-01', end: '2026-12-10' } } };
    const m = observe(s, at(0, ending));
    expect(brief(m)).toEqual(['event data-ending 1/1']);
    expect(m[0]!.sentence).toBe('the data ends on 2026-12-10 (in 3 days); load newer data before then (roq reload)');
    expect(healthState(s)).toBe('warning');
    expect(daysBetween('2026-12-07', '2026-11-08')).toBe(-29);
  });

  it("counts each failed reload, with its reason and the serving data's age, until one succeeds", () => {
    const s = createEvents(10 * MIN);
    const failed = (finishedAt: number) => ({
      lastReload: {
        covers: 1,
        status: 'failed' as const,
        startedAt: finishedAt - 5,
        finishedAt,
        ms: 5,
        error: { code: 'ROQ_LOAD_FILE', message: 'stops.txt:3:1: bad' },
      },
    });
    const m = observe(s, at(0, failed(T0)));
    expect(m[0]!.sentence).toBe(
      'reloading the data failed: stops.txt:3:1: bad; generation 1, loaded 1 h 0 min ago, serves on',
    );
    expect(observe(s, at(1000, failed(T0)))).toEqual([]); // the same failure seen again
    expect(observe(s, at(MIN, failed(T0 + MIN)))).toEqual([]); // a second one: counted, folded
    expect(brief(observe(s, at(10 * MIN, failed(T0 + MIN))))).toEqual(['digest reload-failed 2/1']);
    const ok = { lastReload: { covers: 2, status: 'ok' as const, startedAt: T0, finishedAt: T0, ms: 1 } };
    expect(brief(observe(s, at(11 * MIN, ok)))).toEqual(['resolved reload-failed 2/0']);
  });

  it('says REQUESTS unreachable until it is not, and REQUESTS replaced once per replacement', () => {
    const s = createEvents(MIN);
    const m = observe(s, at(0, { requests: { ok: false, detail: 'REQUESTS is not a FIFO' } }));
    expect(m[0]!.sentence).toBe('clients cannot reach the daemon: REQUESTS is not a FIFO');
    const replaced = { requests: { ok: true, detail: 'REQUESTS was replaced by another FIFO at T' } };
    expect(brief(observe(s, at(1000, replaced)))).toEqual([
      'resolved requests-unreachable 1/0',
      'event requests-replaced 1/1',
    ]);
    for (let t = 2000; t < MIN + 1000; t += 1000) expect(observe(s, at(t, replaced))).toEqual([]);
    expect(brief(observe(s, at(MIN + 1000, replaced)))).toEqual(['resolved requests-replaced 1/0']);
    expect(observe(s, at(MIN + 2000, replaced))).toEqual([]);
  });
});

describe('events: rates and occurrences', () => {
  it('ignores a worker death or two, raises at three a minute, folds the rest, resolves after a quiet interval', () => {
    const s = createEvents(10 * MIN);
    observe(s, at(0));
    expect(observe(s, at(1000, {}, { died: 2 }))).toEqual([]);
    const m = observe(s, at(2000, {}, { died: 2, timeout: 1 }));
    expect(brief(m)).toEqual(['event workers-failing 3/3']);
    expect(m[0]!.sentence).toMatch(/^3 queries in the last minute killed their worker or passed their deadline/);
    let died = 3;
    const out: EventMessage[] = [];
    for (let t = 3000; t < 5 * MIN; t += 1000) out.push(...observe(s, at(t, {}, { died: ++died })));
    expect(out).toEqual([]);
    expect(observe(s, at(10 * MIN, {}, { died }))).toEqual([]); // ten minutes after the first message, not before
    const digest = observe(s, at(10 * MIN + 2000, {}, { died }));
    expect(brief(digest)).toEqual([`digest workers-failing ${died}/${died - 3}`]);
    // Quiet since just before 5 minutes, but the digest went out at 10: resolved an interval after the digest.
    expect(observe(s, at(20 * MIN, {}, { died }))).toEqual([]);
    expect(brief(observe(s, at(20 * MIN + 2000, {}, { died })))).toEqual([`resolved workers-failing ${died}/0`]);
    expect(healthState(s)).toBe('ok');
  });

  it('raises busy refusals and garbage above their rates, each its own kind', () => {
    const s = createEvents(MIN);
    observe(s, at(0));
    const m = observe(s, at(1000, {}, { busy: 10, dropped: 30 }));
    expect(brief(m)).toEqual(['event busy 10/10', 'event garbage 30/30']);
    expect(activeEvents(s).map((e) => e.kind)).toEqual(['busy', 'garbage']);
  });

  it("takes on a predecessor's events as said: nothing told again, ended as they would have been", () => {
    const before = createEvents(MIN, 'timetable');
    const ended = { generation: { id: 1, loadedAt: T0, dates: { start: '2026-09-21', end: '2026-11-08' } } };
    observe(before, at(0, ended));
    observe(before, at(1000, ended, { died: 5 }));
    expect(activeEvents(before).map((e) => e.kind)).toEqual(['data-ended', 'workers-failing']);
    const after = createEvents(MIN, 'timetable');
    adopt(after, activeEvents(before), T0 + 1000);
    expect(observe(after, at(2000, ended, { died: 5 }))).toEqual([]);
    expect(healthState(after)).toBe('critical');
    expect(observe(after, at(MIN, ended, { died: 5 }))).toEqual([]);
    expect(brief(observe(after, at(MIN + 2000, {}, { died: 5 })))).toEqual([
      'resolved data-ended 1/0',
      'resolved workers-failing 5/0',
    ]);
  });

  it('records an unclean stop once, resolved after a quiet interval', () => {
    const s = createEvents(MIN);
    expect(brief(record(s, T0, 'unclean-stop', 'stopped uncleanly'))).toEqual(['event unclean-stop 1/1']);
    expect(observe(s, at(MIN - 1))).toEqual([]);
    expect(brief(observe(s, at(MIN)))).toEqual(['resolved unclean-stop 1/0']);
  });
});

describe("the notify command's words", () => {
  it('splits on blanks, keeps quoted words whole, and refuses an open quote', () => {
    expect(splitCommand(`/usr/bin/mail -s "roq needs help" root`)).toEqual([
      '/usr/bin/mail',
      '-s',
      'roq needs help',
      'root',
    ]);
    expect(splitCommand(`  logger  -t roq   -p 'daemon.warning' `)).toEqual([
      'logger',
      '-t',
      'roq',
      '-p',
      'daemon.warning',
    ]);
    expect(splitCommand(`a"b c"d $HOME`)).toEqual(['ab cd', '$HOME']);
    expect(splitCommand(`echo 'open`)).toBeUndefined();
    expect(splitCommand('   ')).toBeUndefined();
    for (const w of ['plain', 'two words', "it's", '', '"q"'])
      expect(splitCommand(`x ${quoteWord(w)}`)).toEqual(['x', w]);
  });
});
