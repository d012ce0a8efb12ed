/**
 * The departure board as a passenger sees it: headless Chromium (Debian's, driven by playwright-core) against the
 * built CGI program behind a real private Apache httpd, asking a real daemon on the sample LIRR feed. Apache gives
 * the CGI program ROQ_NOW (SetEnv), a Monday morning inside the feed's dates, so "now" is fixed and the board can
 * be checked against the naive reference (test/board-reference.ts). The passenger finds Jamaica by part of its
 * name (one match: straight to its board), reads the next trains on a desktop and on a 390 px phone, pages on with
 * "Later departures", picks a line by name, does all of it with JavaScript off, and meets an honest notice for a
 * date outside the feed. Screenshots of the board (desktop and phone) are taken each run; with
 * UPDATE_SCREENSHOT=1 they replace docs/screenshot-board-desktop.png and docs/screenshot-board-phone.png.
 * Build first; `npm test` does. CI installs apache2 and chromium (.ci/run).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_APACHE, makeWebRunDir, startApache, type Apache } from '../tools/demo/apache.js';
import { contrast, MIN_CONTRAST } from '../templates/board.js';
import { LIRR, ROOT, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { referenceBoard, type BoardParams } from './board-reference.js';
import { removeAfterAll } from './helpers/temp.js';
import { CHROMIUM, installRelay, launchChromium, stopWeb } from './helpers/web.js';

const UPDATE = process.env.UPDATE_SCREENSHOT === '1';
const screenshotPath = (name: string) =>
  UPDATE
    ? join(ROOT, `docs/screenshot-board-${name}.png`)
    : removeAfterAll(join(os.tmpdir(), `roq-screenshot-${name}-${process.pid}.png`));
/** Every wait in a page is bounded by these (Playwright's own defaults are 30 s or none). */
const ACTION_MS = 10_000;
const NAVIGATION_MS = 15_000;

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } as const;
const DESKTOP = { viewport: { width: 1280, height: 900 } } as const;
/** The injected now: Monday 2 November 2026, 07:58 in New York (EST). */
const NOW = '2026-11-02T07:58:00-05:00';
const NOW_SECONDS = Date.parse(NOW) / 1000;
const JAMAICA = '102';

const skipReason = !HAVE_APACHE
  ? 'Apache httpd with mod_cgid is not installed (apt-get install apache2)'
  : !fs.existsSync(CHROMIUM)
    ? `${CHROMIUM} is missing (apt-get install chromium)`
    : '';

/*
 * The functions given to page.evaluate run in the page, not in Node. tsconfig.json has no DOM library (nothing else
 * needs one, and it would let Node code use browser globals unnoticed), so this file declares, for itself only, the
 * little of the DOM they use.
 */
interface Rect {
  left: number;
  right: number;
  top: number;
  bottom: number;
}
interface Element {
  textContent: string | null;
  type?: string;
  getBoundingClientRect(): Rect;
}
declare const document: {
  documentElement: Element & { scrollWidth: number };
  querySelector(selector: string): Element | null;
  querySelectorAll(selector: string): Iterable<Element>;
};
declare const window: { innerWidth: number; innerHeight: number };
declare function getComputedStyle(element: Element): { fontSize: string; color: string; backgroundColor: string };

/** A departure as the page shows it. */
interface Shown {
  time: string;
  destination: string;
  line: string;
  train: string;
}

/** The departures the reference gives for the same question, in the page's words (HH:MM, "+1" on the next day). */
function referenceShown(rows: Record<string, string | number>[]): Shown[] {
  const head = rows.find((r) => r.kind === 'board')!;
  return rows
    .filter((r) => r.kind === 'departure')
    .map((r) => ({
      time: String(r.time).slice(0, 5) + (r.date !== head.date ? ' +1' : ''),
      destination: String(r.destination),
      line: String(r.route_name),
      train: String(r.train),
    }));
}

describe.skipIf(skipReason !== '')(
  `the departure board in a browser${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let base: string;
    let daemon: RunningDaemon | undefined;
    let apache: Apache | undefined;
    let browser: Browser | undefined;
    const contexts: BrowserContext[] = [];
    const reference = referenceBoard(LIRR);

    beforeAll(async () => {
      base = fs.mkdtempSync(join(os.tmpdir(), 'roq-browser-'));
      const run = makeWebRunDir(join(base, 'run'));
      daemon = await startDaemon({ run, workers: 1 });
      // The relay, as deploy/apache.conf serves it; the daemon renders the pages.
      const cgiPath = installRelay(join(base, 'web', 'cgi-bin'));
      apache = await startApache({
        dir: join(base, 'web'),
        scripts: { '/departures': cgiPath },
        env: { ROQ_RUN_DIR: run, PATH: '/usr/bin:/bin', TZ: 'UTC', ROQ_NOW: NOW },
      });
      browser = await launchChromium(NAVIGATION_MS);
    }, 60_000);

    afterAll(() => stopWeb({ contexts, browser, apache, daemon, base }));

    async function open(device: typeof PHONE | typeof DESKTOP, javaScriptEnabled = true): Promise<Page> {
      const context = await browser!.newContext({ ...device, javaScriptEnabled });
      contexts.push(context);
      context.setDefaultTimeout(ACTION_MS);
      context.setDefaultNavigationTimeout(NAVIGATION_MS);
      return context.newPage();
    }

    /** Clicks a button or link and waits for the page it leads to; returns the HTTP statuses on the way (redirects first). */
    async function follow(page: Page, click: () => Promise<void>): Promise<number[]> {
      const statuses: number[] = [];
      const onResponse = (r: { url(): string; status(): number; request(): { isNavigationRequest(): boolean } }) => {
        if (r.request().isNavigationRequest()) statuses.push(r.status());
      };
      page.on('response', onResponse);
      try {
        await Promise.all([page.waitForNavigation({ timeout: NAVIGATION_MS }), click()]);
        await page.waitForLoadState('load', { timeout: NAVIGATION_MS });
      } finally {
        page.off('response', onResponse);
      }
      return statuses;
    }

    /** The board's rows as the passenger reads them: what is shown (on a phone the line is under the destination). */
    async function shown(page: Page): Promise<Shown[]> {
      const table = page.getByRole('table');
      const hasTrain = (await table.locator('thead th').allInnerTexts()).some((t) => t.trim() === 'Train');
      const out: Shown[] = [];
      for (const tr of await table.locator('tbody tr').all()) {
        const text = async (selector: string) => (await tr.locator(selector).innerText()).trim();
        const line = await text('.route:visible');
        // The time cell holds "08:02", and on the next day a visible "+1" and a date for screen readers.
        out.push({
          time: (await text('td.time')).replace(/\s*\+1.*$/s, ' +1'),
          destination: (await text('td.dest')).replace(line, '').trim(),
          line,
          train: hasTrain ? await text('td.train') : '',
        });
      }
      return out;
    }

    /** The passenger's way in: the search form, part of a name, and (one station matches) straight to its board. */
    async function findJamaica(page: Page): Promise<void> {
      const start = await page.goto(`${apache!.url}/departures`);
      expect(start?.status(), apache!.errorLog().slice(-2000)).toBe(200);
      await page.getByLabel('Station name').fill('jamai');
      const statuses = await follow(page, () => page.getByRole('button', { name: 'Find station' }).click());
      expect(statuses).toEqual([303, 200]);
      expect(new URL(page.url()).search).toBe(`?stop=${JAMAICA}`);
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Jamaica');
    }

    it('at the injected now, on a desktop: one search to the board of Jamaica, as the reference and the linked JSON have it', async () => {
      const page = await open(DESKTOP);
      await findJamaica(page);
      expect(await page.locator('.when').innerText()).toBe('Departures from now · Monday 2 Nov 2026, from 07:58');
      expect((await page.locator('thead th').allInnerTexts()).map((t) => t.trim())).toEqual([
        'Time',
        'Destination',
        'Line',
        'Train',
      ]);
      const expected = reference({ stop: JAMAICA, now: NOW_SECONDS });
      const rows = await shown(page);
      expect(rows).toHaveLength(10);
      expect(rows).toEqual(referenceShown(expected));
      // Which feed and which dates, on the board itself.
      expect(await page.getByText('Timetable: Long Island Rail Road').innerText()).toContain(
        'covering Monday 21 Sep 2026 to Sunday 8 Nov 2026',
      );

      // The page links to the JSON of what it shows: the same rows, for the date and time it resolved "now" to.
      const href = await page.getByRole('link', { name: 'This board as JSON' }).getAttribute('href');
      const json = await fetch(new URL(href!, page.url()));
      expect(json.status).toBe(200);
      const body = (await json.json()) as { query: string; rows: Record<string, string | number>[] };
      expect(body.query).toBe('board');
      expect(body.rows).toEqual(reference({ stop: JAMAICA, date: '2026-11-02', after: '07:58' }));
      expect(referenceShown(body.rows)).toEqual(rows);

      await page.screenshot({
        path: screenshotPath('desktop'),
        fullPage: true,
        scale: 'css',
        animations: 'disabled',
        timeout: ACTION_MS,
      });
      expect(fs.statSync(screenshotPath('desktop')).size).toBeGreaterThan(1000);
    });

    it('on a 390 px phone: the board starts in the first screen and every destination is visible without sideways scrolling', async () => {
      const page = await open(PHONE);
      await findJamaica(page);
      const layout = await page.evaluate(() => {
        const rect = (e: Element) => e.getBoundingClientRect();
        const dests = [...document.querySelectorAll('td.dest')].map((e) => ({
          text: e.textContent,
          left: rect(e).left,
          right: rect(e).right,
          width: rect(e).right - rect(e).left,
        }));
        const table = document.querySelector('table')!;
        const inputs = [...document.querySelectorAll('input, select')].filter((i) => i.type !== 'hidden');
        return {
          innerWidth: window.innerWidth,
          innerHeight: window.innerHeight,
          scrollWidth: document.documentElement.scrollWidth,
          table: rect(table),
          firstRow: rect(document.querySelector('tbody tr')!),
          dests,
          cellPx: parseFloat(getComputedStyle(document.querySelector('td.dest')!).fontSize),
          badges: [...document.querySelectorAll('.route')].map((e) => ({
            text: e.textContent,
            height: rect(e).bottom - rect(e).top,
            px: parseFloat(getComputedStyle(e).fontSize),
          })),
          inputPx: Math.min(...inputs.map((i) => parseFloat(getComputedStyle(i).fontSize))),
        };
      });
      expect(layout.innerWidth).toBe(PHONE.viewport.width);
      expect(layout.scrollWidth, 'the page scrolls sideways').toBeLessThanOrEqual(layout.innerWidth);
      expect(layout.table.right).toBeLessThanOrEqual(layout.innerWidth);
      expect(layout.firstRow.bottom, 'the first departure is below the first screen').toBeLessThan(layout.innerHeight);
      expect(layout.dests.length).toBe(10);
      for (const d of layout.dests) {
        expect(d.left, String(d.text)).toBeGreaterThanOrEqual(0);
        expect(d.right, String(d.text)).toBeLessThanOrEqual(layout.innerWidth);
        expect(d.width, `${d.text} is squeezed`).toBeGreaterThanOrEqual(80);
      }
      expect(layout.cellPx).toBeGreaterThanOrEqual(14);
      // A line's name on one line: a badge no taller than two lines' worth of its own text is not wrapped.
      for (const b of layout.badges) expect(b.height, `${b.text} wraps`).toBeLessThan(2 * b.px * 1.2);
      // A phone (iOS Safari) zooms the page in when a field whose text is under 16 px takes the focus.
      expect(layout.inputPx).toBeGreaterThanOrEqual(16);
      await page.screenshot({
        path: screenshotPath('phone'),
        fullPage: true,
        scale: 'css',
        animations: 'disabled',
        timeout: ACTION_MS,
      });
      expect(fs.statSync(screenshotPath('phone')).size).toBeGreaterThan(1000);
    });

    it('keeps the date chosen on the landing page: search, board, later, another station', async () => {
      const page = await open(DESKTOP, false);
      const start = await page.goto(`${apache!.url}/departures`);
      expect(start?.status()).toBe(200);
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Long Island Rail Road');
      expect(await page.locator('.when').innerText()).toContain('Monday 21 Sep 2026 to Sunday 8 Nov 2026');
      const chosen = { date: '2026-10-14', after: '17:30' };
      const onChosenDay = () => {
        const url = new URL(page.url());
        expect(url.searchParams.get('date'), url.href).toBe(chosen.date);
      };
      await page.getByLabel('Station name').fill('penn');
      await page.getByLabel('Date').fill(chosen.date);
      await page.getByLabel('From').fill(chosen.after);
      expect(await follow(page, () => page.getByRole('button', { name: 'Find station' }).click())).toEqual([303, 200]);
      onChosenDay();
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Penn Station');
      expect(await page.locator('.when').innerText()).toBe('Departures · Wednesday 14 Oct 2026, from 17:30');
      await follow(page, () => page.getByRole('link', { name: 'Later departures' }).click());
      onChosenDay();
      expect(await page.locator('.when').innerText()).toContain('Wednesday 14 Oct 2026');
      // Another station by a search that lists several: every link on the list keeps the day.
      await page.getByLabel('Station name').fill('park');
      await follow(page, () => page.getByRole('button', { name: 'Find station' }).click());
      onChosenDay();
      await follow(page, () => page.getByRole('link', { name: 'Floral Park' }).click());
      onChosenDay();
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Floral Park');
      expect(await page.locator('.when').innerText()).toContain('Wednesday 14 Oct 2026');
      // And one of the main stations on the landing page, with the day chosen there.
      await page.goto(`${apache!.url}/departures?date=${chosen.date}&after=${chosen.after}`);
      await follow(page, () => page.getByRole('link', { name: 'Jamaica' }).click());
      onChosenDay();
      expect(await page.locator('.when').innerText()).toBe('Departures · Wednesday 14 Oct 2026, from 17:30');
    });

    it('"Later departures" continues after the last one shown, and rolls past midnight with +1', async () => {
      const page = await open(DESKTOP);
      await page.goto(`${apache!.url}/departures?stop=${JAMAICA}&date=2026-11-02&after=23:45`);
      const long = referenceShown(reference({ stop: JAMAICA, date: '2026-11-02', after: '23:45', limit: 40 }));
      const seen: Shown[] = [];
      for (let n = 0; n < 3; n++) {
        seen.push(...(await shown(page)));
        await follow(page, () => page.getByRole('link', { name: 'Later departures' }).click());
      }
      // The later pages' times are relative to their own date: "+1" only on the first page.
      expect(seen.slice(0, 10)).toEqual(long.slice(0, 10));
      expect(seen.slice(10).map((s) => ({ ...s, time: `${s.time} +1` }))).toEqual(long.slice(10, 30));
      expect(seen.slice(0, 10).some((s) => s.time.endsWith('+1'))).toBe(true);
    });

    it('works with JavaScript off: search, board, a line picked by name from the station list, another day in one click', async () => {
      const page = await open(PHONE, false);
      await findJamaica(page);
      const lines = (await page.getByLabel('Line').locator('option').allInnerTexts()).map((t) => t.trim());
      expect(lines[0]).toBe('All lines');
      expect(lines.slice(1)).toEqual(
        reference({ stop: JAMAICA, now: NOW_SECONDS })
          .filter((r) => r.kind === 'route')
          .map((r) => r.route_name),
      );
      await page.getByLabel('Line').selectOption({ label: 'Babylon Branch' });
      await follow(page, () => page.getByRole('button', { name: 'Show departures' }).click());
      const p: BoardParams = { stop: JAMAICA, date: '2026-11-02', after: '07:58', route: '1' };
      expect(await shown(page)).toEqual(referenceShown(reference(p)));
      expect(await page.locator('.when').innerText()).toContain('Babylon Branch only');

      await follow(page, () => page.getByRole('link', { name: 'Tue 3 Nov ›' }).click());
      expect(await page.locator('.when').innerText()).toContain('Tuesday 3 Nov 2026, from 07:58');
      expect(await shown(page)).toEqual(referenceShown(reference({ ...p, date: '2026-11-03' })));

      // Many stations match: a list of links to their boards.
      await page.getByLabel('Station name').fill('park');
      await follow(page, () => page.getByRole('button', { name: 'Find station' }).click());
      await follow(page, () => page.getByRole('link', { name: 'Floral Park' }).click());
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Floral Park');
    });

    it('says so for a date outside the feed instead of showing an empty board', async () => {
      const page = await open(DESKTOP, false);
      const res = await page.goto(`${apache!.url}/departures?stop=${JAMAICA}&date=2026-11-29`);
      expect(res?.status()).toBe(200);
      const notice = page.getByRole('status');
      expect(await notice.innerText()).toContain(
        'Sunday 29 Nov 2026 is outside this timetable. It covers Monday 21 Sep 2026 to Sunday 8 Nov 2026',
      );
      expect(await page.getByRole('table').count()).toBe(0);
      await follow(page, () => notice.getByRole('link', { name: 'Show Sunday 8 Nov 2026 instead' }).click());
      expect(await shown(page)).toEqual(
        referenceShown(reference({ stop: JAMAICA, date: '2026-11-08', after: '00:00' })),
      );
    });

    it('meets the accessibility basics: labelled fields, table headers, route colours at AA contrast', async () => {
      const page = await open(DESKTOP);
      await page.goto(`${apache!.url}/departures?stop=${JAMAICA}&date=2026-11-02&after=08:00&limit=40`);
      expect(await page.locator('html').getAttribute('lang')).toBe('en');
      // A select's accessible name also holds its selected option ("Line All lines"), so that one is matched by prefix.
      for (const label of ['Station name', 'Date', 'From', 'Line'])
        expect(await page.getByLabel(label, { exact: label !== 'Line' }).count(), label).toBe(1);
      const unlabelled = await page.evaluate(
        () =>
          [...document.querySelectorAll('input, select')].filter(
            (i) => i.type !== 'hidden' && !(i as unknown as { labels: unknown[] }).labels.length,
          ).length,
      );
      expect(unlabelled).toBe(0);
      expect(await page.locator('thead th[scope="col"]').count()).toBe(4);
      expect(await page.locator('table caption').innerText()).toContain('Departures from Jamaica');
      const pills = await page.evaluate(() =>
        [...document.querySelectorAll('.route')].map((e) => ({
          name: e.textContent,
          color: getComputedStyle(e).color,
          background: getComputedStyle(e).backgroundColor,
        })),
      );
      const hex = (rgb: string) =>
        rgb
          .match(/\d+/g)!
          .slice(0, 3)
          .map((n) => Number(n).toString(16).padStart(2, '0'))
          .join('')
          .toUpperCase();
      const lines = new Set(pills.map((p) => p.name));
      expect(lines.size).toBeGreaterThanOrEqual(5);
      const feedColours = new Map(
        reference({ stop: JAMAICA, date: '2026-11-02' })
          .filter((r) => r.kind === 'route')
          .map((r) => [r.route_name, [r.route_color, r.route_text_color]]),
      );
      let adjusted = 0;
      for (const p of pills) {
        const [bg, fg] = feedColours.get(p.name!)!;
        expect(hex(p.background), p.name!).toBe(bg);
        expect(
          contrast(hex(p.background), hex(p.color)),
          `${p.name} ${p.color} on ${p.background}`,
        ).toBeGreaterThanOrEqual(MIN_CONTRAST);
        if (hex(p.color) !== fg) adjusted++;
      }
      // The sample feed's own white on green (Babylon, 3.7:1) would fail; the page swaps in black there.
      expect(adjusted).toBeGreaterThan(0);
    });

    it('answers a bad date in the URL with a 400 page in passenger words, keeping the station, through Apache', async () => {
      const page = await open(PHONE, false);
      const response = await page.goto(`${apache!.url}/departures?stop=${JAMAICA}&date=2026-13-45`);
      expect(response?.status()).toBe(400);
      expect(response?.headers()['content-type']).toMatch(/^text\/html/);
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Jamaica');
      const alert = page.getByRole('alert');
      const text = await alert.innerText();
      expect(text).toContain('“2026-13-45” is not a date. Choose a day in the Date field.');
      expect(text).not.toMatch(/ROQ_|HTTP|parameter/);
      // The field at fault is marked and points at the message.
      const date = page.getByLabel('Date');
      expect(await date.getAttribute('aria-invalid')).toBe('true');
      expect(await date.getAttribute('aria-describedby')).toBe('error');
      expect(await page.getByRole('table').count()).toBe(0);
    });
  },
);
