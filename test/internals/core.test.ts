/**
 * The daemon's core on its own (src/daemon/core.ts): the races that test/faults, test/zero-loss, test/hold and
 * test/lifecycle exercise through real daemons, replayed as plain function calls — no thread, FIFO or timer. A
 * "worker" here is the test claiming jobs in the claim cells exactly as src/daemon/worker.ts does (claimJob,
 * jobFinished), so the compare-and-exchange that makes "answered exactly once" true is the real one.
 */
import { describe, expect, it } from 'vitest';
import { encodeRequest, type ControlWord } from '../../src/protocol.js';
import { emptyWebFields, type WebFields } from '../../src/web-protocol.js';
import { Core } from '../../src/daemon/core.js';
import type { Effect } from '../../src/daemon/effect-types.js';
import { Generations } from '../../src/daemon/generations.js';
import { claimJob, jobFinished, type ClaimCells, type ToWorker } from '../../src/daemon/messages.js';
import type { GenerationData } from '../../src/store/types.js';

const DEADLINE = 1000;
const gen = (id: number) => ({ id, hash: `h${id}` }) as unknown as GenerationData;
const line = (text: string) => text.replace(/\n$/, '');
const query = (pid: number, token: string) =>
  line(encodeRequest({ kind: 'query', pid, token, proof: 'p'.repeat(16), query: 'departures', params: {} }));
const webLine = (pid: number, token: string, over: Partial<WebFields> = {}) =>
  line(
    encodeRequest({
      kind: 'web',
      pid,
      token,
      proof: 'p'.repeat(22),
      web: { ...emptyWebFields(), method: 'GET', ...over },
    }),
  );
const controlLine = (word: ControlWord, token: string) => line(encodeRequest({ kind: 'control', word, token }));

type Posted = Extract<ToWorker, { type: 'query' }>;

/** A core with `workers` workers started and ready, serving generation 1, and a log of every effect. */
function harness(workers: number, roq1 = true) {
  let now = 0;
  let tokens = 0;
  const running = new Set<number>([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const core = new Core({
    run: '/run',
    workers,
    deadlineMs: DEADLINE,
    roq1,
    clock: () => now,
    pidRuns: (pid) => running.has(pid),
    newToken: () => `t${++tokens}`,
  });
  const all: Effect[] = [];
  const take = (fx: Effect[]) => (all.push(...fx), fx);
  const cells = new Map<number, ClaimCells>();
  const spawned = (fx: Effect[]) => {
    const ids: number[] = [];
    for (const e of fx)
      if (e.kind === 'spawn') (cells.set(e.worker, core.startWorker(e.worker)!.cells), ids.push(e.worker));
    return ids;
  };
  const ids = spawned(take(core.start()));
  take(core.first(gen(1)));
  for (const id of ids) take(core.fromWorker(id, { type: 'ready', heap: 0 }));
  return {
    core,
    ids,
    all,
    take,
    spawned,
    tick: (ms: number) => (now += ms),
    /** The queries posted to worker `id` so far. */
    posted: (id: number) =>
      all
        .filter(
          (e): e is Extract<Effect, { kind: 'post' }> =>
            e.kind === 'post' && e.worker === id && e.message.type === 'query',
        )
        .map((e) => e.message as Posted),
    /** The worker claims a job posted to it, as worker.ts does before running it. */
    claim: (id: number, m: Posted) => claimJob(cells.get(id)!, m.cell, m.seq),
    /** The worker finished the job it claimed; its report is not in yet. */
    finishedNotReported: (id: number) => jobFinished(cells.get(id)!),
    /** The worker finished the job it claimed and reports it. */
    finish: (id: number, m: Posted) => {
      jobFinished(cells.get(id)!);
      return take(core.fromWorker(id, { type: 'done', seq: m.seq, status: 'ok', rows: 1, workMs: 1 }));
    },
    /** Access-log lines (one per request ended), by requesting pid. */
    ended: (pid: number) =>
      all
        .filter((e) => e.kind === 'accessLog' && e.job.pid === pid)
        .map((e) => (e as Extract<Effect, { kind: 'accessLog' }>).outcome),
    answers: (pid: number) => all.filter((e) => e.kind === 'answer' && e.pid === pid),
  };
}

describe('the core hands out jobs', () => {
  it('gives an idle worker a job first, and lets at most two more wait behind a busy one', () => {
    const h = harness(2);
    for (let pid = 1; pid <= 7; pid++) h.take(h.core.line(query(pid, `a${pid}`)));
    expect(h.posted(h.ids[0]!).length + h.posted(h.ids[1]!).length).toBe(6);
    expect(h.core.queued()).toBe(1);
    expect(h.core.busy()).toBe(6);
  });

  it('answers a request of version 1 only while roq1 is on; off, it gets ROQ_PROTOCOL_VERSION without a job', () => {
    const v1 = (pid: number) =>
      line(encodeRequest({ kind: 'query', pid, token: `v${pid}`, query: 'stops', params: {} }));
    const on = harness(1);
    on.take(on.core.line(v1(1)));
    expect(on.posted(on.ids[0]!).map((m) => m.pid)).toEqual([1]);
    const off = harness(1, false);
    off.take(off.core.line(v1(2)));
    off.take(off.core.line(query(3, 'a3')));
    expect(off.posted(off.ids[0]!).map((m) => m.pid)).toEqual([3]);
    expect(off.answers(2)).toMatchObject([{ answer: { status: 'error', code: 'ROQ_PROTOCOL_VERSION' } }]);
  });

  it('lets a worker that falls idle take a job waiting behind another worker, unless that one claimed it', () => {
    const h = harness(2);
    const [w1, w2] = h.ids as [number, number];
    for (let pid = 1; pid <= 4; pid++) h.take(h.core.line(query(pid, `a${pid}`)));
    // w1: pid 1 (running) then 3; w2: pid 2 (running) then 4.
    const [p1, p3] = h.posted(w1) as [Posted, Posted];
    const [p2, p4] = h.posted(w2) as [Posted, Posted];
    expect([p1.pid, p3.pid, p2.pid, p4.pid]).toEqual([1, 3, 2, 4]);
    expect(h.claim(w1, p1) && h.claim(w2, p2)).toBe(true);
    // w1 finishes 1 and claims 3 from its port; w2's 4 waits behind a query that runs on.
    h.finish(w1, p1);
    expect(h.claim(w1, p3)).toBe(true);
    h.finish(w1, p3);
    // Idle now: w1 took 4 back from w2's port, so w2 cannot run it any more.
    const moved = h.posted(w1).find((m) => m.pid === 4)!;
    expect(moved).toBeDefined();
    expect(h.claim(w2, p4)).toBe(false);
    expect(h.claim(w1, moved)).toBe(true);
    h.finish(w1, moved);
    expect(h.ended(4)).toEqual(['ok']);
  });

  it('counts in shared memory the jobs that wait for a worker, so one that falls idle speaks up only then', () => {
    const h = harness(1);
    const [w] = h.ids as [number];
    const waiting = () => Atomics.load(h.core.waiting, 0);
    expect(h.core.startWorker(w)!.waiting).toBe(h.core.waiting); // the very cell the worker reads
    h.take(h.core.line(query(1, 'a1')));
    const p1 = h.posted(w)[0]!;
    expect(h.claim(w, p1)).toBe(true);
    expect(waiting()).toBe(0); // it runs, nothing behind it
    for (let pid = 2; pid <= 4; pid++) h.take(h.core.line(query(pid, `a${pid}`)));
    expect(waiting()).toBe(3); // 2 and 3 handed but not claimed, 4 queued
    const [, p2, p3] = h.posted(w) as [Posted, Posted, Posted];
    h.finish(w, p1); // 4 is handed to it now
    expect(waiting()).toBe(3);
    const p4 = h.posted(w)[3]!;
    for (const p of [p2, p3, p4]) (expect(h.claim(w, p)).toBe(true), h.finish(w, p));
    expect(waiting()).toBe(0);
    expect([1, 2, 3, 4].map((pid) => h.ended(pid))).toEqual([['ok'], ['ok'], ['ok'], ['ok']]);
  });
});

describe('a worker that dies', () => {
  it('costs the jobs it claimed, once each; jobs still waiting in its port go to another worker and are answered once', () => {
    const h = harness(1);
    const [w1] = h.ids as [number];
    for (let pid = 1; pid <= 3; pid++) h.take(h.core.line(query(pid, `a${pid}`)));
    const [p1, p2, p3] = h.posted(w1) as [Posted, Posted, Posted];
    // It runs 1, and had claimed 2 too (a race of microseconds) when it dies; 3 it never claimed.
    expect(h.claim(w1, p1)).toBe(true);
    expect(h.claim(w1, p2)).toBe(true);
    h.core.workerError(w1, 'out of memory');
    const fx = h.take(h.core.workerExited(w1, 1));
    expect(h.ended(1)).toEqual(['died']);
    expect(h.ended(2)).toEqual(['died']);
    expect(h.answers(1)[0]).toMatchObject({ answer: { status: 'error', code: 'ROQ_WORKER_DIED' } });
    // 3 is queued again, first, until the replacement is ready; then it runs there, once.
    expect(h.ended(3)).toEqual([]);
    expect(h.core.queued()).toBe(1);
    const [w2] = h.spawned(fx) as [number];
    expect(w2).not.toBe(w1);
    h.take(h.core.fromWorker(w2, { type: 'ready', heap: 0 }));
    const again = h.posted(w2).find((m) => m.pid === 3)!;
    expect(h.claim(w1, p3)).toBe(false); // the dead worker's cell no longer holds it
    expect(h.claim(w2, again)).toBe(true);
    h.finish(w2, again);
    expect(h.ended(3)).toEqual(['ok']);
    expect(h.core.counters()).toMatchObject({ received: 3, ok: 1, died: 2 });
  });

  it('fails the start when a first worker dies before it is ready, and is then not replaced', () => {
    const core = new Core({
      run: '/run',
      workers: 2,
      deadlineMs: DEADLINE,
      roq1: true,
      clock: () => 0,
      pidRuns: () => true,
      newToken: () => 't',
    });
    const [a] = core
      .start()
      .filter((e) => e.kind === 'spawn')
      .map((e) => (e as { worker: number }).worker) as [number];
    const fx = core.workerExited(a, 1);
    expect(fx).toContainEqual({ kind: 'started', error: 'a worker died while starting (exit code 1)' });
    expect(fx.some((e) => e.kind === 'spawn')).toBe(false);
  });

  it('ignores what a terminated worker still reports, and its exit cancels only its own deadline', () => {
    const h = harness(1);
    const [w1] = h.ids as [number];
    h.take(h.core.line(query(1, 'a1')));
    const [p1] = h.posted(w1) as [Posted];
    h.claim(w1, p1);
    h.tick(DEADLINE);
    const fx = h.take(h.core.deadline(w1));
    const [w2] = h.spawned(fx) as [number];
    expect(h.core.fromWorker(w1, { type: 'done', seq: p1.seq, status: 'ok', rows: 1, workMs: 1 })).toEqual([]);
    expect(h.take(h.core.workerExited(w1, 1))).toEqual([{ kind: 'disarm', worker: w1 }]);
    expect(h.ended(1)).toEqual(['timeout']);
    expect(w2).toBeGreaterThan(w1);
  });
});

describe('a deadline', () => {
  it('kills the worker running the job, answers it timeout once, and requeues the jobs it had not claimed', () => {
    const h = harness(2);
    const [w1, w2] = h.ids as [number, number];
    for (let pid = 1; pid <= 4; pid++) h.take(h.core.line(query(pid, `a${pid}`)));
    const [p1, p3] = h.posted(w1) as [Posted, Posted];
    const [p2, p4] = h.posted(w2) as [Posted, Posted];
    h.claim(w1, p1);
    h.claim(w2, p2);
    h.tick(DEADLINE);
    const fx = h.take(h.core.deadline(w1));
    expect(fx).toContainEqual({ kind: 'terminate', worker: w1 });
    expect(h.answers(1)[0]).toMatchObject({ answer: { status: 'timeout', code: 'ROQ_QUERY_DEADLINE' } });
    expect(h.ended(1)).toEqual(['timeout']);
    // 3 was waiting in w1's port: back in the queue, first (w2 holds all it may), never lost, never answered twice.
    expect(h.claim(w1, p3)).toBe(false);
    expect(h.ended(3)).toEqual([]);
    h.finish(w2, p2);
    const again = h.posted(w2).find((m) => m.pid === 3)!;
    expect(again).toBeDefined();
    // w2's port: 4 (handed before), then 3; it runs them in that order.
    h.claim(w2, p4);
    h.finish(w2, p4);
    h.claim(w2, again);
    h.finish(w2, again);
    expect(h.ended(3)).toEqual(['ok']);
  });

  it('is a new deadline, not a kill, when the worker is not running the job any more (or not yet)', () => {
    const h = harness(1);
    const [w1] = h.ids as [number];
    h.take(h.core.line(query(1, 'a1')));
    const [p1] = h.posted(w1) as [Posted];
    // Not claimed yet (the worker was opening a generation): a whole deadline from now.
    h.tick(DEADLINE);
    expect(h.take(h.core.deadline(w1))).toEqual([{ kind: 'arm', worker: w1, ms: DEADLINE }]);
    // Claimed and finished, its report not yet in: the same.
    h.claim(w1, p1);
    h.finishedNotReported(w1);
    h.tick(DEADLINE);
    expect(h.take(h.core.deadline(w1))).toEqual([{ kind: 'arm', worker: w1, ms: DEADLINE }]);
    h.take(h.core.fromWorker(w1, { type: 'done', seq: p1.seq, status: 'ok', rows: 1, workMs: 1 }));
    expect(h.ended(1)).toEqual(['ok']);
  });
});

describe('generations', () => {
  it('swaps at the reload line: jobs read before it keep the old generation, which is dropped when the last of them ends', () => {
    const h = harness(1);
    const [w1] = h.ids as [number];
    h.take(h.core.line(query(1, 'a1')));
    const [old] = h.posted(w1) as [Posted];
    h.claim(w1, old);
    const staged = h.take(h.core.stage(gen(2)));
    expect(staged).toContainEqual({ kind: 'post', worker: w1, message: { type: 'generation', generation: gen(2) } });
    const write = staged.find((e) => e.kind === 'writeControl') as Extract<Effect, { kind: 'writeControl' }>;
    expect(h.core.generations.stageOf(2)).toBe('staged');
    // The swap line comes back through REQUESTS, after the request above and before the next.
    expect(h.take(h.core.line(controlLine('reload', write.token)))).toContainEqual({ kind: 'staged', id: 2 });
    expect(h.core.current().id).toBe(2);
    expect(h.core.generations.stageOf(1)).toBe('retired');
    h.take(h.core.line(query(2, 'a2')));
    expect(h.posted(w1)[1]!.generation).toBe(2);
    expect(old.generation).toBe(1);
    expect(h.all.some((e) => e.kind === 'dropped')).toBe(false);
    // The old generation's last job ends: dropped from the workers, then collected.
    const fx = h.finish(w1, old);
    expect(fx).toContainEqual({ kind: 'post', worker: w1, message: { type: 'drop', id: 1 } });
    expect(fx).toContainEqual({ kind: 'dropped', id: 1 });
    expect(h.core.generations.stageOf(1)).toBeUndefined();
  });

  it('drops at once a generation no job names when it is replaced', () => {
    const h = harness(1);
    const write = h.take(h.core.stage(gen(2))).find((e) => e.kind === 'writeControl') as Extract<
      Effect,
      { kind: 'writeControl' }
    >;
    expect(h.take(h.core.line(controlLine('reload', write.token)))).toContainEqual({ kind: 'dropped', id: 1 });
  });

  it('opens in a replacement worker every generation still live, and never a held one', () => {
    const g = new Generations(7);
    expect(g.newId()).toBe(7);
    g.stage(gen(7));
    g.makeCurrent(7);
    expect(g.hold(gen(8))).toBeUndefined();
    expect(g.stageOf(8)).toBe('held');
    expect(g.liveGenerations().map((x) => x.id)).toEqual([7]);
    // A newer hold discards the older one; a swap takes the held one to be staged.
    expect(g.hold(gen(9))?.id).toBe(8);
    expect(g.takeHeld()?.id).toBe(9);
    expect(g.held()).toBeUndefined();
    g.stage(gen(9));
    expect(g.liveGenerations().map((x) => x.id)).toEqual([7, 9]);
  });

  it('swaps a held generation in through the same reload line, and keeps the old one for the jobs read before it', () => {
    const h = harness(1);
    const [w1] = h.ids as [number];
    h.core.generations.hold(gen(2));
    h.take(h.core.line(query(1, 'a1')));
    const held = h.core.generations.takeHeld()!;
    const write = h.take(h.core.stage(held)).find((e) => e.kind === 'writeControl') as Extract<
      Effect,
      { kind: 'writeControl' }
    >;
    h.take(h.core.line(controlLine('reload', write.token)));
    expect(h.core.current().id).toBe(2);
    expect(h.core.generations.jobsOn(1)).toBe(1);
    const [p1] = h.posted(w1) as [Posted];
    h.claim(w1, p1);
    expect(h.finish(w1, p1)).toContainEqual({ kind: 'dropped', id: 1 });
  });
});

describe('stopping', () => {
  it('takes a stop line only with a token this daemon issued (a takeover line), and answers everything read first', () => {
    const h = harness(1);
    const [w1] = h.ids as [number];
    const write = h.take(h.core.control('stop'))[0] as Extract<Effect, { kind: 'writeControl' }>;
    expect(write).toMatchObject({ kind: 'writeControl', word: 'stop' });
    // Anyone in the web server's group can write a stop line; without the token it is dropped.
    expect(h.take(h.core.line(controlLine('stop', 'forged')))).toContainEqual(
      expect.objectContaining({ kind: 'log', level: 'warn' }),
    );
    expect(h.core.isStopping()).toBe(false);
    h.take(h.core.line(query(1, 'a1')));
    expect(h.take(h.core.line(controlLine('stop', write.token)))).toContainEqual({ kind: 'stopReading' });
    // What was read already (drained from the socket's buffer after the stop line) is still answered.
    h.take(h.core.line(query(2, 'a2')));
    expect(h.take(h.core.finishIfDone())).toEqual([]);
    expect(h.core.control('stop')).toEqual([]);
    const [p1, p2] = h.posted(w1) as [Posted, Posted];
    h.claim(w1, p1);
    expect(h.finish(w1, p1).some((e) => e.kind === 'stopped')).toBe(false);
    h.claim(w1, p2);
    expect(h.finish(w1, p2)).toContainEqual({ kind: 'stopped' });
    expect([...h.ended(1), ...h.ended(2)]).toEqual(['ok', 'ok']);
  });

  it('during a reload: the staged generation never serves, is dropped, and its install is told why', () => {
    const h = harness(1);
    const stop = h.take(h.core.control('stop'))[0] as Extract<Effect, { kind: 'writeControl' }>;
    h.take(h.core.stage(gen(2))); // its reload line is behind the stop line
    const fx = [...h.take(h.core.line(controlLine('stop', stop.token))), ...h.take(h.core.finishIfDone())];
    expect(fx).toContainEqual({
      kind: 'staged',
      id: 2,
      error: 'the daemon stopped before the new generation took over',
    });
    expect(fx).toContainEqual({ kind: 'dropped', id: 2 });
    expect(fx.at(-1)).toEqual({ kind: 'stopped' });
    expect(h.core.current().id).toBe(1);
    // A load that finishes after the stop was read is refused at once, and opened nowhere.
    expect(h.core.stage(gen(3))).toEqual([{ kind: 'staged', id: 3, error: 'the daemon is stopping' }]);
  });
});

describe('what a writer into REQUESTS can get wrong', () => {
  it('queues at most 64 requests of one pid, and none for a pid that does not run', () => {
    const h = harness(1);
    for (let i = 0; i < 3 + 64 + 5; i++) h.take(h.core.line(query(1, `b${i}`)));
    expect(h.ended(1).filter((o) => o === 'busy')).toHaveLength(5);
    h.take(h.core.line(query(4242, 'x')));
    expect(h.core.queued()).toBe(64);
    expect(h.core.counters()).toMatchObject({ busy: 5, dropped: 1 });
  });

  it('answers a line of another protocol version that names its pid, and only drops garbage', () => {
    const h = harness(1);
    h.take(h.core.line('roq9 5 tok x y'));
    expect(h.answers(5)[0]).toMatchObject({ answer: { code: 'ROQ_PROTOCOL_VERSION' } });
    const garbage = h.take(h.core.line('hello'));
    expect(garbage.every((e) => e.kind === 'log')).toBe(true);
    // A request written after garbage without a line end is found at the end of the line.
    h.take(h.core.line('junk' + query(6, 'c6')));
    expect(h.posted(h.ids[0]!).some((m) => m.pid === 6)).toBe(true);
  });
});

describe('web requests', () => {
  const accessLog = (all: Effect[]) =>
    all.filter((e): e is Extract<Effect, { kind: 'accessLog' }> => e.kind === 'accessLog');

  it('go to a worker with the request, and are logged with the query the worker asked and the HTTP status', () => {
    const h = harness(1);
    h.take(h.core.line(webLine(1, 'w1', { query: 'stop=102&format=json' })));
    const [job] = h.posted(h.ids[0]!);
    expect(job).toMatchObject({ pid: 1, proof: 'p'.repeat(22), web: { query: 'stop=102&format=json' } });
    h.claim(h.ids[0]!, job!);
    h.finishedNotReported(h.ids[0]!);
    const done = { type: 'done', seq: job!.seq, status: 'ok', rows: 3, workMs: 1 } as const;
    h.take(h.core.fromWorker(h.ids[0]!, { ...done, query: 'departures', params: 'stop=102', http: 200 }));
    expect(accessLog(h.all)[0]!.job).toMatchObject({ query: 'departures', encoded: 'stop=102', http: 200 });
  });

  it('answers the health check at once, with no worker and no count', () => {
    const h = harness(1);
    h.take(h.core.line(webLine(2, 'h', { path: '/_health' })));
    expect(h.answers(2)[0]).toMatchObject({ web: { path: '/_health' }, answer: { status: 'ok', hash: 'h1' } });
    expect(h.posted(h.ids[0]!)).toEqual([]);
    expect(h.core.counters().received).toBe(0);
  });

  it('answers busy and malformed ones with error pages, the page status in the access log', () => {
    const h = harness(1);
    for (let i = 0; i < 3 + 64 + 1; i++) h.take(h.core.line(webLine(1, `b${i}`)));
    const busy = accessLog(h.all).find((e) => e.outcome === 'busy')!;
    expect(busy.job.http).toBe(503);
    expect(h.answers(1)[0]).toMatchObject({ web: { method: 'GET' }, answer: { code: 'ROQ_DAEMON_BUSY' } });
    h.take(h.core.line(`roq3 5 tok ${'p'.repeat(22)} .web q=%zz`));
    expect(h.answers(5)[0]).toMatchObject({ web: emptyWebFields(), answer: { code: 'ROQ_BAD_REQUEST' } });
  });
});
