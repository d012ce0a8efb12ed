/**
 * The departure board as a visitor on a phone sees it: headless Chromium (Debian's, driven by playwright-core)
 * against the built CGI program behind a real private Apache httpd, asking a real daemon on the sample LIRR feed.
 * The visitor finds a station by part of its name, picks it, sets a date and a time, and reads the board; the
 * board must agree with `roq query`, work with JavaScript off, fit a phone's width, and a bad date in the URL must
 * come back through Apache as a 400 that names the field. The run takes a screenshot of the board; with
 * UPDATE_SCREENSHOT=1 it replaces docs/screenshot-departures.png. Build first; `npm test` does. CI installs
 * apache2 and chromium (.ci/run).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_APACHE, makeWebRunDir, startApache, writeCgi, type Apache } from '../src/demo/apache.js';
import { HAVE_BUN } from './helpers/cgi.js';
import { ROOT, roqCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';

const CHROMIUM = '/usr/bin/chromium';
/** The screenshot kept in docs/ is refreshed with UPDATE_SCREENSHOT=1; otherwise it goes to a temporary file. */
const SCREENSHOT = process.env.UPDATE_SCREENSHOT === '1' ? join(ROOT, 'docs/screenshot-departures.png') : join(os.tmpdir(), `roq-screenshot-${process.pid}.png`);
/** Every wait in a page is bounded by these (Playwright's own defaults are 30 s or none). */
const ACTION_MS = 10_000;
const NAVIGATION_MS = 15_000;

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } as const;
const DATE = '2026-11-02';
const AFTER = '08:00';
const JAMAICA = '102';

const skipReason = !HAVE_APACHE
  ? 'Apache httpd with mod_cgid is not installed (apt-get install apache2)'
  : !fs.existsSync(CHROMIUM)
    ? `${CHROMIUM} is missing (apt-get install chromium)`
    : '';

interface Departure {
  time: string;
  trip_id: string;
}

/*
 * The functions given to page.evaluate run in the page, not in Node. tsconfig.json has no DOM library (nothing else
 * needs one, and it would let Node code use browser globals unnoticed), so this file declares, for itself only, the
 * little of the DOM they use.
 */
interface Rect {
  left: number;
  right: number;
  top: number;
  height: number;
}
interface Element {
  textContent: string | null;
  type?: string;
  offsetLeft: number;
  offsetWidth: number;
  scrollLeft: number;
  scrollWidth: number;
  getBoundingClientRect(): Rect;
  closest(selector: string): Element | null;
  querySelector(selector: string): Element | null;
}
declare const document: {
  documentElement: Element;
  querySelector(selector: string): Element | null;
  querySelectorAll(selector: string): Iterable<Element>;
  elementFromPoint(x: number, y: number): Element | null;
};
declare const window: { innerWidth: number };
declare function getComputedStyle(element: Element): { fontSize: string };

/** What the visitor read on the board: the column headers and the cells of each row, as shown. */
interface Board {
  url: string;
  headers: string[];
  rows: string[][];
}

describe.skipIf(skipReason !== '')(`the departure board in a browser${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let base: string;
  let daemon: RunningDaemon | undefined;
  let apache: Apache | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  let expected: Departure[];

  beforeAll(async () => {
    base = fs.mkdtempSync(join(os.tmpdir(), 'roq-browser-'));
    const run = makeWebRunDir(join(base, 'run'));
    daemon = await startDaemon({ run, workers: 1 });
    // The interpreter by absolute path: the #! line gets no PATH lookup, and Apache's children run as www-data.
    // The deployed program: the Bun executable dist/roq-cgi; without Bun, the bundle under Node.
    const cgiBin = join(base, 'web', 'cgi-bin');
    const executable = join(ROOT, 'dist/roq-cgi');
    let cgiPath: string;
    if (HAVE_BUN && fs.existsSync(executable)) {
      fs.mkdirSync(cgiBin, { recursive: true });
      cgiPath = join(cgiBin, 'roq-cgi');
      fs.copyFileSync(executable, cgiPath);
    } else {
      cgiPath = writeCgi(cgiBin, 'roq.cgi', process.execPath, fs.readFileSync(join(ROOT, 'dist/roq.cgi'), 'utf8'));
    }
    apache = await startApache({
      dir: join(base, 'web'),
      scripts: { '/departures': cgiPath },
      env: { ROQ_RUN_DIR: run, PATH: '/usr/bin:/bin', TZ: 'America/New_York' },
    });
    // playwright-core adds --headless (Chromium's new headless mode since 132) and, with chromiumSandbox false,
    // --no-sandbox, which Chromium needs when run as root (CI); saying it here keeps that true if defaults change.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false, timeout: NAVIGATION_MS });

    const r = await roqCli(['query', 'departures', `stop=${JAMAICA}`, `date=${DATE}`, `after=${AFTER}`, '--json', '--run', run]);
    expect(r.code, r.stderr).toBe(0);
    expected = JSON.parse(r.stdout) as Departure[];
    expect(expected.length).toBeGreaterThan(0);
  });

  afterAll(async () => {
    // Each step on its own, so that one failing still lets the others clean up.
    await Promise.allSettled(contexts.map((c) => c.close()));
    await browser?.close().catch(() => undefined);
    await apache?.stop().catch(() => undefined);
    await daemon?.stop().catch(() => undefined);
    if (base) fs.rmSync(base, { recursive: true, force: true });
  });

  async function phone(javaScriptEnabled: boolean): Promise<Page> {
    const context = await browser!.newContext({ ...PHONE, javaScriptEnabled });
    contexts.push(context);
    context.setDefaultTimeout(ACTION_MS);
    context.setDefaultNavigationTimeout(NAVIGATION_MS);
    return context.newPage();
  }

  /** Clicks a submit button and waits for the page it leads to; returns that page's HTTP status. */
  async function submit(page: Page, button: string): Promise<number> {
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().startsWith(`${apache!.url}/departures?`) && r.request().isNavigationRequest(), { timeout: NAVIGATION_MS }),
      page.getByRole('button', { name: button, exact: true }).click(),
    ]);
    await page.waitForLoadState('load', { timeout: NAVIGATION_MS });
    return response.status();
  }

  /**
   * The visitor's way to the board, with nothing but the page's own forms: search 'jamai', pick Jamaica from the
   * stations found, set the date and the time, show the departures, read the table.
   */
  async function visit(page: Page): Promise<Board> {
    const start = await page.goto(`${apache!.url}/departures`);
    expect(start?.status(), apache!.errorLog().slice(-2000)).toBe(200);

    await page.getByLabel('Station name').fill('jamai');
    expect(await submit(page, 'Find stations')).toBe(200);
    const found = page.getByRole('region', { name: 'Stations matching “jamai”' });
    await found.waitFor();
    const stations = await found.getByRole('listitem').allInnerTexts();
    expect(stations.map((s) => s.trim())).toEqual([`Jamaica (${JAMAICA})`]);

    expect(await submit(page, `Jamaica (${JAMAICA})`)).toBe(200);
    const form = page.getByRole('group', { name: 'Departures' });
    expect(await form.getByLabel('Stop id').inputValue()).toBe(JAMAICA);

    await form.getByLabel('Date').fill(DATE);
    await form.getByLabel('After').fill(AFTER);
    expect(await submit(page, 'Show departures')).toBe(200);

    const board = page.getByRole('region', { name: `Departures from stop ${JAMAICA} on ${DATE} after ${AFTER}` });
    await board.waitFor();
    const table = board.getByRole('table');
    const headers = (await table.locator('thead th').allInnerTexts()).map((t) => t.trim());
    const rows: string[][] = [];
    for (const tr of await table.locator('tbody tr').all()) rows.push((await tr.locator('td').allInnerTexts()).map((t) => t.trim()));
    return { url: page.url(), headers, rows };
  }

  /** The board agrees with `roq query` for the same question, row for row in time and trip. */
  function expectBoardMatchesCli(board: Board): void {
    const url = new URL(board.url);
    expect(Object.fromEntries(['stop', 'date', 'after'].map((k) => [k, url.searchParams.get(k)]))).toEqual({ stop: JAMAICA, date: DATE, after: AFTER });
    const time = board.headers.indexOf('Time');
    const trip = board.headers.indexOf('Trip');
    expect(time, `headers ${board.headers.join(', ')}`).toBeGreaterThanOrEqual(0);
    expect(trip, `headers ${board.headers.join(', ')}`).toBeGreaterThanOrEqual(0);
    expect(board.rows.length).toBe(expected.length);
    expect(board.rows[0]![time]! >= `${AFTER}:00`, `first time ${board.rows[0]![time]}`).toBe(true);
    const shown = board.rows.slice(0, 5).map((r) => ({ time: r[time], trip_id: r[trip] }));
    expect(shown).toEqual(expected.slice(0, 5).map((d) => ({ time: d.time, trip_id: d.trip_id })));
  }

  it('on a phone, finds Jamaica by part of its name, picks it, and reads the 08:00 board that roq query gives', async () => {
    const page = await phone(true);
    const board = await visit(page);
    expectBoardMatchesCli(board);

    // Fits the phone: the viewport meta is honoured (no zoomed-out desktop layout), nothing scrolls sideways but the
    // table inside its own box, the text is of a readable size, and the time column is in view.
    const layout = await page.evaluate(() => {
      const table = document.querySelector('table')!;
      const box = table.closest('.scroll')!.getBoundingClientRect();
      const firstTime = table.querySelector('tbody td')!.getBoundingClientRect();
      const visibleInputs = [...document.querySelectorAll('input')].filter((i) => i.type !== 'hidden');
      return {
        innerWidth: window.innerWidth,
        scrollWidth: document.documentElement.scrollWidth,
        box: { left: box.left, right: box.right },
        firstTime: { left: firstTime.left, right: firstTime.right },
        cellPx: parseFloat(getComputedStyle(table.querySelector('td')!).fontSize),
        inputPx: Math.min(...visibleInputs.map((i) => parseFloat(getComputedStyle(i).fontSize))),
      };
    });
    expect(layout.innerWidth).toBe(PHONE.viewport.width);
    expect(layout.scrollWidth, 'the page scrolls sideways').toBeLessThanOrEqual(layout.innerWidth);
    expect(layout.box.left).toBeGreaterThanOrEqual(0);
    expect(layout.box.right).toBeLessThanOrEqual(layout.innerWidth);
    expect(layout.firstTime.left).toBeGreaterThanOrEqual(layout.box.left);
    expect(layout.firstTime.right).toBeLessThanOrEqual(layout.box.right);
    expect(layout.cellPx).toBeGreaterThanOrEqual(12);
    // A phone (iOS Safari) zooms the page in when a field whose text is under 16 px takes the focus.
    expect(layout.inputPx).toBeGreaterThanOrEqual(16);

    // Eleven columns do not fit a phone: the visitor swipes the table to reach the headsign, and each row's time
    // must stay in view beside it, or the board cannot be read.
    const swiped = await page.evaluate(() => {
      const scroller = document.querySelector('.scroll')!;
      const headers = [...document.querySelectorAll('thead th')];
      const headsignTh = headers.find((th) => th.textContent === 'Headsign')!;
      scroller.scrollLeft = headsignTh.offsetLeft - headers[0]!.offsetWidth;
      const box = scroller.getBoundingClientRect();
      const headsign = headsignTh.getBoundingClientRect();
      const time = document.querySelector('tbody td')!.getBoundingClientRect();
      const atTime = document.elementFromPoint(time.left + 2, time.top + time.height / 2);
      return { scrolled: scroller.scrollLeft, box: { left: box.left, right: box.right }, headsign: { left: headsign.left, right: headsign.right }, time: { left: time.left }, atTime: atTime?.textContent };
    });
    expect(swiped.scrolled, 'the table does not scroll in its box').toBeGreaterThan(0);
    expect(swiped.headsign.left).toBeGreaterThanOrEqual(swiped.box.left);
    expect(swiped.headsign.right).toBeLessThanOrEqual(swiped.box.right);
    expect(swiped.time.left).toBeCloseTo(swiped.box.left, 0);
    expect(swiped.atTime, 'the time is covered when the table is swiped').toBe(board.rows[0]![board.headers.indexOf('Time')]);
    await page.evaluate(() => (document.querySelector('.scroll')!.scrollLeft = 0));

    await page.screenshot({ path: SCREENSHOT, fullPage: true, scale: 'css', animations: 'disabled', timeout: ACTION_MS });
    expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(1000);
  });

  it('works the same with JavaScript disabled', async () => {
    const page = await phone(false);
    expectBoardMatchesCli(await visit(page));
  });

  it('answers a bad date in the URL with a 400 page that names the date field, through Apache', async () => {
    const page = await phone(false);
    const response = await page.goto(`${apache!.url}/departures?stop=${JAMAICA}&date=2026-13-45`);
    expect(response?.status()).toBe(400);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = await alert.innerText();
    expect(text).toContain("'date'");
    expect(text).toContain('2026-13-45');
    expect(await alert.locator('code').innerText()).toBe('date');
    // The field at fault is marked and points at the message.
    const date = page.getByRole('group', { name: 'Departures' }).getByLabel('Date');
    expect(await date.getAttribute('aria-invalid')).toBe('true');
    expect(await date.getAttribute('aria-describedby')).toBe('error');
    expect(await page.getByRole('table').count()).toBe(0);
  });
});
