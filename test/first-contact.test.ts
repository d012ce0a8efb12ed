/**
 * What a new user, a visitor and an admin hit first (issue 10), through the real programs: the CGI program
 * (dist/roq.cgi) against a real daemon or none, and the `roq` CLI. A visitor sees plain sentences (the internals go
 * to stderr, the web server's error log), every field at fault at once, a prompt for an empty search, and "outside
 * the timetable's dates" instead of an empty board blaming the stop; the CLI and an admin see the feed's date
 * range, roq-style usage errors, and errors that speak to whoever runs the binary. `roq check` validates a data
 * directory in its own process.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csv, TINY_FEED, writeFeed } from './feeds.js';
import { runCgi } from './helpers/cgi.js';
import { makeRunDir, roqCli, startDaemon, waitFor, type RunningDaemon } from './helpers/daemon.js';

/** The sample feed's dates: calendar_dates from 2026-09-21 to 2026-11-08 (it has no feed_start_date). */
const SAMPLE_RANGE = '2026-09-21 to 2026-11-08';
/** Things only the server's admin should read. */
const INTERNALS = /ENXIO|ENOENT|EPIPE|roq start|roq status|\/tmp\/|roq-run-/;

let daemon: RunningDaemon;
let empty: string;

beforeAll(async () => {
  daemon = await startDaemon({ workers: 2 });
  empty = makeRunDir();
});
afterAll(async () => {
  await daemon?.stop();
  if (empty) fs.rmSync(empty, { recursive: true, force: true });
});

const page = (query: string, run = daemon.run) => runCgi({ query, env: { ROQ_RUN_DIR: run } });
const json = async (query: string, run = daemon.run) => {
  const r = await page(`${query}&format=json`, run);
  return {
    ...r,
    json: JSON.parse(r.body) as {
      query?: string;
      rows?: unknown[];
      notice?: string;
      error?: { code: string; message: string; param?: string };
    },
  };
};

describe('a visitor never sees server internals', () => {
  it('with the daemon down: the page says a plain sentence, JSON has the code and a plain message, stderr has the details', async () => {
    const html = await page('stop=102&date=2026-11-02', empty);
    expect(html.status).toBe(503);
    expect(html.body).toContain('The timetable service is not available right now');
    expect(html.body).not.toMatch(INTERNALS);
    expect(html.body).not.toContain('ROQ_DAEMON_DOWN');
    expect(html.stderr).toContain(empty);
    expect(html.stderr).toContain('ROQ_DAEMON_DOWN');
    expect(html.stderr).toMatch(/roq start --run/);
    const j = await json('stop=102&date=2026-11-02', empty);
    expect(j.status).toBe(503);
    expect(j.json.error?.code).toBe('ROQ_DAEMON_DOWN');
    expect(j.json.error?.message).not.toMatch(INTERNALS);
    expect(j.stderr).toContain(empty);
  });

  it("a form mistake names the field in a passenger's words on the board, and its code on the raw page", async () => {
    const r = await page('stop=102&date=tomorrow');
    expect(r.status).toBe(400);
    expect(r.body).toContain('“tomorrow” is not a date. Choose a day in the Date field.');
    const raw = await page('query=departures&stop=102&date=tomorrow');
    expect(raw.body).toContain('ROQ_PARAM_INVALID');
    expect(r.stderr).toBe('');
  });
});

describe('form details', () => {
  it('date=2026-02-30 says the day does not exist, on the page, in JSON and in the CLI', async () => {
    const j = await json('stop=102&date=2026-02-30');
    expect(j.status).toBe(400);
    expect(j.json.error).toMatchObject({ code: 'ROQ_PARAM_NO_SUCH_DAY', param: 'date' });
    expect(j.json.error?.message).toContain('February 2026 has 28 days');
    const cli = await roqCli(['query', 'departures', 'stop=102', 'date=2026-04-31', '--run', daemon.run]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('2026-04-31 is not a day of the calendar (April 2026 has 30 days)');
  });

  it('the page reports every invalid field, not just the first', async () => {
    const r = await page('query=departures&stop=102&date=2026-02-30&after=25:00&limit=500');
    expect(r.status).toBe(400);
    for (const field of ['date', 'after', 'limit'])
      expect(r.body).toMatch(new RegExp(`name="${field}"[^>]*aria-invalid="true"`));
    expect(r.body).not.toMatch(/name="stop"[^>]*aria-invalid="true"/);
    expect(r.body).toContain('February 2026 has 28 days');
    expect(r.body).toContain('parameter &#39;after&#39; is invalid');
    expect(r.body).toContain('parameter &#39;limit&#39; is invalid');
    // The passenger's board too.
    const board = await page('stop=102&date=2026-02-30&after=25:00');
    expect(board.status).toBe(400);
    for (const field of ['date', 'after'])
      expect(board.body).toMatch(new RegExp(`name="${field}"[^>]*aria-invalid="true"`));
    expect(board.body).toContain(
      '“2026-02-30” is not a day: February 2026 has 28 days. Choose a day in the Date field.',
    );
    expect(board.body).toContain('“25:00” is not a time of day. Choose a time in the From field.');
  });

  it('an empty station search is a gentle prompt, not a red 400', async () => {
    const r = await page('q=&date=2026-11-02');
    expect(r.status).toBe(200);
    expect(r.body).toContain('Type part of a station name');
    expect(r.body).not.toContain('role="alert"');
  });
});

describe('the feed has a date range', () => {
  it('a board for a day outside it says so with the range instead of blaming the stop', async () => {
    const r = await page('query=departures&stop=102&date=2026-12-01');
    expect(r.status).toBe(200);
    expect(r.body).toContain(`The timetable covers 2026-09-21 to 2026-11-08; 2026-12-01 is outside it`);
    expect(r.body).not.toContain('No departures found');
    // JSON keeps its exact body ({query, rows}, docs/QUERIES.md) and carries the range in a header.
    const j = await json('stop=102&date=2026-12-01');
    expect(j.body).toBe('{"query":"departures","rows":[]}\n');
    expect(j.headers['roq-data-dates']).toBe('2026-09-21/2026-11-08');
  });

  it('`roq query` says so on stderr and keeps stdout the exact answer', async () => {
    const r = await roqCli(['query', 'departures', 'stop=102', 'date=2026-12-01', '--json', '--run', daemon.run]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('[]\n');
    expect(r.stderr).toContain('The timetable covers 2026-09-21 to 2026-11-08; 2026-12-01 is outside it');
  });

  it("`roq query --help`'s example returns rows", async () => {
    const help = await roqCli(['query', '--help']);
    const example = /roq (query departures [^\n]*)/.exec(help.stdout)![1]!.split(' ');
    const r = await roqCli([...example, '--run', daemon.run]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as unknown[]).length).toBeGreaterThan(0);
    expect(r.stderr).toBe('');
  });

  it('`roq start`, `roq status` and `roq reload` show it; the log warns once the data has run out', async () => {
    // TINY_FEED's calendar ends on 2025-12-31, in the past wherever this runs; feed_info's dates take precedence.
    const data = writeFeed({
      ...TINY_FEED,
      'feed_info.txt': csv(
        'feed_publisher_name,feed_publisher_url,feed_lang,feed_start_date,feed_end_date',
        'Tiny,https://example.org,en,20250101,20251130',
      ),
    });
    const run = makeRunDir();
    try {
      const start = await roqCli(['start', '--run', run, '--data', data, '--workers', '1']);
      expect(start.code, start.stderr).toBe(0);
      expect(start.stdout).toMatch(/data covers 2025-01-01 to 2025-11-30 \(ENDED: today is \d{4}-\d\d-\d\d/);
      const status = await roqCli(['status', '--run', run]);
      expect(status.stdout).toMatch(/dates\s+2025-01-01 to 2025-11-30 \(ENDED/);
      const statusJson = JSON.parse((await roqCli(['status', '--run', run, '--json'])).stdout) as {
        status: { generation: { dates: unknown } };
      };
      expect(statusJson.status.generation.dates).toMatchObject({ start: '2025-01-01', end: '2025-11-30' });
      fs.rmSync(join(data, 'feed_info.txt'));
      const reload = await roqCli(['reload', '--run', run]);
      expect(reload.code, reload.stderr).toBe(0);
      expect(reload.stdout).toContain('data covers 2025-01-01 to 2025-12-31'); // from calendar and calendar_dates
      const log = await waitFor('the warnings', () => {
        const text = fs.readFileSync(join(run, 'daemon', 'roq.log'), 'utf8');
        return (text.match(/past its end/g)?.length ?? 0) >= 2 && text;
      });
      expect(log).toMatch(
        /generation 1: the data covers 2025-01-01 to 2025-11-30: today \(\d{4}-\d\d-\d\d\) is past its end/,
      );
      expect(log).toMatch(/generation 2: the data covers 2025-01-01 to 2025-12-31/);
    } finally {
      await roqCli(['stop', '--run', run]);
      fs.rmSync(run, { recursive: true, force: true });
    }
  });

  it('`roq status` of the sample shows its range', async () => {
    const status = await roqCli(['status', '--run', daemon.run]);
    expect(status.stdout).toContain(`dates       ${SAMPLE_RANGE}`);
  });
});

describe('CLI details', () => {
  it('`roq query departures --limit 5` gives a roq-style message', async () => {
    const r = await roqCli(['query', 'departures', 'stop=102', 'date=2026-11-02', '--limit', '5', '--run', daemon.run]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "roq: unknown option '--limit': query parameters are written NAME=VALUE, as in 'limit=…'; see `roq query --help` [ROQ_USAGE]\n",
    );
  });

  it('`roq upgrade --run DIR` on a missing DIR says the run directory does not exist', async () => {
    const missing = join(empty, 'no-such-run');
    const r = await roqCli(['upgrade', '--run', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the run directory ${missing} does not exist`);
    expect(r.stderr).toContain('[ROQ_RUN_DIR_MISSING]');
    expect(r.stderr).not.toMatch(/ENOENT|lock/);
  });

  it('an empty data directory is told where the files go, not how to edit a schema', async () => {
    const data = makeRunDir();
    const run = makeRunDir();
    try {
      const r = await roqCli(['start', '--run', run, '--data', data]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('[ROQ_LOAD_NO_DATA]');
      expect(r.stderr).toContain('point --data at the directory that holds it');
      expect(r.stderr).not.toContain('schema');
      const partial = writeFeed({ 'stops.txt': TINY_FEED['stops.txt']! });
      const missing = await roqCli(['check', '--data', partial]);
      expect(missing.stderr).toContain('[ROQ_LOAD_MISSING_FILE]');
      expect(missing.stderr).not.toContain('schema');
    } finally {
      fs.rmSync(data, { recursive: true, force: true });
      fs.rmSync(run, { recursive: true, force: true });
    }
  });
});

describe('roq check --data DIR', () => {
  it('prints rows per table, the date range and warnings, and exits 0 for a good directory', async () => {
    const r = await roqCli(['check', '--data', join(daemon.run, '..', 'no-run-needed'), '--help']);
    expect(r.code).toBe(0);
    const ok = await roqCli(['check', '--data', writeFeed({ ...TINY_FEED, 'extra.txt': 'x\n' })], {
      env: { ROQ_RUN_DIR: '/nonexistent' },
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/: ok, \d+ rows from 7 files/);
    expect(ok.stdout).toMatch(/stop_times\.txt\s+6 rows/);
    expect(ok.stdout).toContain('data covers 2025-01-01 to 2025-12-31');
    expect(ok.stdout).toMatch(/warning: .*extra\.txt: no schema describes this file/);
  });

  it('exits non-zero with file:line:column on a bad file, and leaves a running daemon alone', async () => {
    const before = JSON.parse((await roqCli(['status', '--run', daemon.run, '--json'])).stdout) as {
      status: { served: { received: number }; generation: { id: number } };
    };
    const bad = writeFeed({
      ...TINY_FEED,
      'stops.txt': csv('stop_id,stop_name,stop_lat,stop_lon', 'S,"Central,52.5,13.4'),
    });
    const r = await roqCli(['check', '--data', bad], { env: { ROQ_RUN_DIR: daemon.run } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/stops\.txt:2:2: a quoted field is never closed/);
    const after = JSON.parse((await roqCli(['status', '--run', daemon.run, '--json'])).stdout) as typeof before;
    expect(after.status.generation.id).toBe(before.status.generation.id);
  });
});
