/**
 * Zero loss under load. Sixteen real clients (FIFO clients in this process, and the relay run as child
 * processes, as Apache runs it) ask a bounded number of queries while the test flips the data between two versions and reloads ten
 * times, and upgrades the daemon three times. The two versions differ in a known way (every stop name and trip
 * headsign of B ends in " ~B"), so each answer shows which version answered it.
 *
 * Every request must get exactly one answer, equal to the answer of a version that was current at some moment
 * between the request's sending and its answer: 0 lost, 0 duplicated, 0 errors. "Current" is known to within
 * each operation's window: a version may serve from the moment its reload was asked for until the next reload
 * returned. The daemons' access log must show exactly one line per request sent.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { openChannel, type Channel } from '../src/client.js';
import { openGeneration, runQuery, type Db } from '../src/engine.js';
import { rowsToObjects, type Answer, type Cell } from '../src/protocol.js';
import { loadGeneration } from '../src/load/loader.js';
import { runCgi } from './helpers/cgi.js';
import { RELAY } from './helpers/relay.js';
import { LIRR, makeRunDir, roqCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { rng } from './helpers/rng.js';

const TARGET_REQUESTS = 20_000;
const FIFO_CLIENTS = 14;
const CGI_CLIENTS = 2;
const RELOADS = 10;
const UPGRADES = 3;
/** Hard bounds: the load stops at this many requests per client, or after this long, whichever comes first. */
const MAX_PER_CLIENT = 4_000;
const MAX_LOAD_MS = 150_000;

type Version = 'A' | 'B';
interface Ask {
  query: string;
  params: Record<string, string>;
  /** The expected rows as JSON (objects in field order), per version. */
  expected: Record<Version, string>;
}

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Copies `file` from `from` to `to`, appending suffix to the named column of every row. */
function rewrite(from: string, to: string, file: string, column: string, suffix: string): void {
  const rows = parse(fs.readFileSync(join(from, file)), { bom: true }) as string[][];
  const col = rows[0]!.indexOf(column);
  const out = rows.map((r, i) => (i === 0 ? r : r.map((v, j) => (j === col ? v + suffix : v))));
  fs.writeFileSync(join(to, file), out.map((r) => r.map(csvField).join(',')).join('\n') + '\n');
}

function makeVersions(root: string): Record<Version, string> {
  const a = join(root, 'feed-a');
  const b = join(root, 'feed-b');
  fs.cpSync(LIRR, a, { recursive: true });
  fs.cpSync(LIRR, b, { recursive: true });
  rewrite(a, b, 'stops.txt', 'stop_name', ' ~B');
  rewrite(a, b, 'trips.txt', 'trip_headsign', ' ~B');
  return { A: a, B: b };
}

const objects = (fields: Parameters<typeof rowsToObjects>[0], rows: Cell[][]) =>
  JSON.stringify(rowsToObjects(fields, rows));

/** A few hundred departure boards and stop searches, with their answers under both versions. */
async function makeAsks(dirs: Record<Version, string>): Promise<Ask[]> {
  const dbs: Record<Version, Db> = {
    A: openGeneration(await loadGeneration(dirs.A, 1, { warn: () => undefined })),
    B: openGeneration(await loadGeneration(dirs.B, 1, { warn: () => undefined })),
  };
  const r = rng(4242);
  const stops = parse(fs.readFileSync(join(dirs.A, 'stops.txt')), { columns: true, bom: true }) as {
    stop_id: string;
    stop_name: string;
  }[];
  const dates = ['2026-09-22', '2026-09-26', '2026-10-05', '2026-10-11', '2026-10-20', '2026-11-01'];
  const asks: Ask[] = [];
  for (let i = 0; i < 300; i++) {
    let query: string;
    let params: Record<string, string>;
    if (i % 4 === 3) {
      const name = r.pick(stops).stop_name;
      const start = r.int(0, Math.max(0, name.length - 3));
      query = 'stops';
      params = { q: name.slice(start, start + r.int(2, 5)).toLowerCase(), limit: String(r.int(1, 20)) };
    } else {
      query = 'departures';
      params = {
        stop: r.pick(stops).stop_id,
        date: r.pick(dates),
        after: `${String(r.int(0, 23)).padStart(2, '0')}:${String(r.int(0, 59)).padStart(2, '0')}`,
        limit: String(r.int(1, 15)),
      };
    }
    const expected = { A: '', B: '' };
    for (const v of ['A', 'B'] as const) {
      const res = runQuery(dbs[v], query, params);
      expected[v] = objects(res.fields, res.rows);
    }
    asks.push({ query, params, expected });
  }
  return asks;
}

/** When each version may have been current: from its reload's start to the end of the reload that replaced it. */
interface Period {
  version: Version;
  from: number;
  until: number;
}

interface Tally {
  sent: number;
  viaCgi: number;
  answered: number;
  revealed: number;
  lost: string[];
  wrong: string[];
  errors: string[];
}

function judge(t: Tally, periods: Period[], ask: Ask, rowsJson: string, sentAt: number, answeredAt: number): void {
  t.answered++;
  const versions = (['A', 'B'] as const).filter((v) => ask.expected[v] === rowsJson);
  if (versions.length === 0) {
    t.wrong.push(`${ask.query} ${JSON.stringify(ask.params)}: matches neither version: ${rowsJson.slice(0, 200)}`);
    return;
  }
  if (versions.length === 1) t.revealed++;
  const current = periods.some((p) => versions.includes(p.version) && p.from <= answeredAt && p.until >= sentAt);
  if (!current)
    t.wrong.push(
      `${ask.query} ${JSON.stringify(ask.params)}: version ${versions} was not current between ${sentAt} and ${answeredAt}`,
    );
}

let d: RunningDaemon | undefined;
afterAll(async () => {
  await d?.stop();
});

describe('zero loss under load', () => {
  it(`answers ${TARGET_REQUESTS}+ requests from ${FIFO_CLIENTS + CGI_CLIENTS} clients exactly once through ${RELOADS} reloads and ${UPGRADES} upgrades`, async () => {
    const root = makeRunDir();
    const dirs = makeVersions(root);
    const asks = await makeAsks(dirs);
    const data = join(root, 'data');
    fs.symlinkSync(dirs.A, data);
    const run = join(root, 'run');
    d = await startDaemon({ data, workers: 2, run });

    const periods: Period[] = [{ version: 'A', from: 0, until: Infinity }];
    const tally: Tally = { sent: 0, viaCgi: 0, answered: 0, revealed: 0, lost: [], wrong: [], errors: [] };
    const started = Date.now();
    let opsDone = false;
    const enough = () => (opsDone && tally.sent >= TARGET_REQUESTS) || Date.now() - started > MAX_LOAD_MS;

    async function fifoClient(seed: number, channel: Channel): Promise<void> {
      const r = rng(seed);
      for (let n = 0; n < MAX_PER_CLIENT && !enough(); n++) {
        const ask = r.pick(asks);
        const sentAt = Date.now();
        tally.sent++;
        let a: Answer;
        try {
          a = await channel.request(ask.query, ask.params, 15_000);
        } catch (e) {
          tally.lost.push(`${ask.query} ${JSON.stringify(ask.params)}: ${(e as Error).message}`);
          continue;
        }
        if (a.status !== 'ok') tally.errors.push(`${ask.query} ${JSON.stringify(ask.params)}: ${JSON.stringify(a)}`);
        else judge(tally, periods, ask, objects(a.fields, a.rows), sentAt, Date.now());
      }
    }

    async function cgiClient(seed: number): Promise<void> {
      const r = rng(seed);
      for (let n = 0; n < MAX_PER_CLIENT && !enough(); n++) {
        const ask = r.pick(asks);
        const sentAt = Date.now();
        tally.sent++;
        tally.viaCgi++;
        const res = await runCgi({
          query: new URLSearchParams({ ...ask.params, format: 'json' }).toString(),
          runtime: 'exe',
          program: RELAY,
          env: { ROQ_RUN_DIR: run, ROQ_CGI_TIMEOUT_MS: '15000' },
          timeoutMs: 20_000,
        });
        if (res.status !== 200) {
          (res.status === 503 || res.status === 0 ? tally.lost : tally.errors).push(
            `CGI ${res.status}: ${res.raw.slice(0, 200)} ${res.stderr.slice(0, 200)}`,
          );
          continue;
        }
        judge(
          tally,
          periods,
          ask,
          JSON.stringify((JSON.parse(res.body) as { rows: unknown[] }).rows),
          sentAt,
          Date.now(),
        );
      }
    }

    /** 10 reloads alternating the data between B and A, with an upgrade after every third. */
    async function operations(): Promise<string[]> {
      const log: string[] = [];
      let version: Version = 'A';
      for (let i = 0; i < RELOADS; i++) {
        await new Promise((r) => setTimeout(r, 250));
        const next: Version = version === 'A' ? 'B' : 'A';
        const from = Date.now();
        fs.symlinkSync(dirs[next], data + '.new');
        fs.renameSync(data + '.new', data);
        const period: Period = { version: next, from, until: Infinity };
        periods.push(period);
        const r = await roqCli(['reload', '--run', run], { timeoutMs: 60_000 });
        // The old version may have answered until `reload` returned.
        periods[periods.length - 2]!.until = Date.now();
        log.push(`reload ${i + 1} -> ${next}: ${r.code === 0 ? r.stdout.split('\n')[0] : r.stderr.trim()}`);
        expect(r.code, r.stderr).toBe(0);
        version = next;
        if (i % 3 === 2 && log.filter((l) => l.startsWith('upgrade')).length < UPGRADES) {
          await new Promise((r2) => setTimeout(r2, 250));
          const u = await roqCli(['upgrade', '--run', run], { timeoutMs: 60_000 });
          log.push(`upgrade: ${u.code === 0 ? u.stdout.trim().split('\n').pop() : u.stderr.trim()}`);
          expect(u.code, u.stderr).toBe(0);
        }
      }
      opsDone = true;
      return log;
    }

    const channels = Array.from({ length: FIFO_CLIENTS }, () => openChannel(run));
    const [ops] = await Promise.all([
      operations().finally(() => (opsDone = true)),
      ...channels.map((c, i) => fifoClient(1000 + i, c)),
      ...Array.from({ length: CGI_CLIENTS }, (_, i) => cgiClient(2000 + i)),
    ]);
    // Anything still arriving now would be a second answer.
    await new Promise((r) => setTimeout(r, 300));
    const duplicated = channels.reduce((n, c) => n + c.strays(), 0);
    for (const c of channels) c.close();

    const accessLog = join(run, 'daemon', 'access.log');
    let logged = 0;
    for (let i = 0; i < 50; i++) {
      logged = fs
        .readFileSync(accessLog, 'utf8')
        .split('\n')
        .filter((l) => l.includes(' status=')).length;
      if (logged >= tally.sent) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const summary = {
      sent: tally.sent,
      viaCgi: tally.viaCgi,
      answered: tally.answered,
      lost: tally.lost.length,
      duplicated,
      errors: tally.errors.length,
      wrong: tally.wrong.length,
      revealedVersion: tally.revealed,
      accessLogLines: logged,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      webClient: 'the relay',
    };
    console.log(`zero-loss: ${JSON.stringify(summary)}\n  ${ops.join('\n  ')}`);
    expect(tally.lost.slice(0, 5)).toEqual([]);
    expect(tally.errors.slice(0, 5)).toEqual([]);
    expect(tally.wrong.slice(0, 5)).toEqual([]);
    expect(duplicated).toBe(0);
    expect(tally.answered).toBe(tally.sent);
    expect(tally.sent).toBeGreaterThanOrEqual(TARGET_REQUESTS);
    expect(tally.viaCgi).toBeGreaterThan(0);
    expect(tally.revealed).toBeGreaterThan(tally.sent / 2);
    expect(logged).toBe(tally.sent);
    expect(ops.filter((l) => l.startsWith('upgrade'))).toHaveLength(UPGRADES);
  }, 240_000);
});
