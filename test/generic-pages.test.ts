/**
 * The generic pages of an app made by `roq init` with no edit, as a visitor sees them: headless Chromium (Debian's,
 * driven by playwright-core) against the app's own CGI program behind a real private Apache httpd, over a daemon
 * serving Debian's distro-info and tzdata's files. The index, a form, a record, a page of results and an error, at
 * desktop and phone widths: nothing is wider than a phone's screen (a record reads as a list, results as cards),
 * labels are the files' headers as written, and a long answer pages on. Screenshots are taken each run; with
 * UPDATE_SCREENSHOT=1 they replace docs/screenshot-generic-PAGE-DEVICE.png. Build first; `npm test` does.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_APACHE, makeWebRunDir, startApache, type Apache } from '../tools/demo/apache.js';
import { ROOT, roqCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { CHROMIUM, installCgi, launchChromium, stopWeb } from './helpers/web.js';

const UPDATE = process.env.UPDATE_SCREENSHOT === '1';
const ACTION_MS = 10_000;
const NAVIGATION_MS = 15_000;
const DEVICES = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
} as const;

const skipReason = !HAVE_APACHE
  ? 'Apache httpd with mod_cgid is not installed (apt-get install apache2)'
  : !fs.existsSync(CHROMIUM)
    ? `${CHROMIUM} is missing (apt-get install chromium)`
    : '';

/* The function given to page.evaluate runs in the page; tsconfig.json has no DOM library (see browser.test.ts). */
declare const document: { documentElement: { scrollWidth: number } };
declare const window: { innerWidth: number };

describe.skipIf(skipReason !== '')(
  `the generic pages in a browser${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let base = '';
    let daemon: RunningDaemon | undefined;
    let apache: Apache | undefined;
    let browser: Browser | undefined;
    const contexts: BrowserContext[] = [];

    beforeAll(async () => {
      base = fs.mkdtempSync(join(os.tmpdir(), 'roq-generic-pages-'));
      const data = join(base, 'data');
      fs.mkdirSync(data);
      for (const f of ['debian.csv', 'ubuntu.csv', 'zone1970.tab', 'iso3166.tab'])
        fs.copyFileSync(join(ROOT, 'test/fixtures/own-data', f), join(data, f));
      const app = join(base, 'releases');
      const init = await roqCli(['init', app, '--from', data]);
      expect(init.code, init.stderr).toBe(0);
      fs.writeFileSync(join(app, 'app.json'), JSON.stringify({ title: 'Releases and time zones' }));
      expect((await roqCli(['build', '--app', app])).code).toBe(0);
      daemon = await startDaemon({ app, data, run: makeWebRunDir(join(base, 'run')), workers: 1 });
      const program = installCgi(join(app, '.roq/dist'), join(base, 'web', 'cgi-bin'));
      apache = await startApache({
        dir: join(base, 'web'),
        scripts: { '/releases': program },
        env: { ROQ_RUN_DIR: daemon.run, PATH: '/usr/bin:/bin', ROQ_CGI_TIMEOUT_MS: '5000' },
      });
      browser = await launchChromium(NAVIGATION_MS);
    }, 120_000);

    afterAll(() => stopWeb({ contexts, browser, apache, daemon, base }));

    async function visit(device: keyof typeof DEVICES, path: string, status = 200): Promise<Page> {
      const context = await browser!.newContext(DEVICES[device]);
      contexts.push(context);
      context.setDefaultTimeout(ACTION_MS);
      context.setDefaultNavigationTimeout(NAVIGATION_MS);
      const page = await context.newPage();
      const res = await page.goto(`${apache!.url}/releases${path}`);
      expect(res?.status(), apache!.errorLog().slice(-2000)).toBe(status);
      // Nothing wider than the screen: a phone never scrolls sideways.
      const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      expect(scroll, `${path} on a ${device}`).toBeLessThanOrEqual(width);
      return page;
    }

    async function shoot(page: Page, name: string, device: string): Promise<void> {
      const file = `screenshot-generic-${name}-${device}.png`;
      await page.screenshot({ path: UPDATE ? join(ROOT, 'docs', file) : join(base, file) });
    }

    for (const device of ['desktop', 'phone'] as const) {
      it(`on a ${device}: the index, a form, a record, a page of results and an error`, async () => {
        const index = await visit(device, '/');
        expect(await index.getByRole('heading', { level: 1 }).innerText()).toBe('Releases and time zones');
        expect(await index.getByRole('link', { name: 'debian_browse' }).count()).toBeGreaterThan(0);
        await shoot(index, 'index', device);

        const form = await visit(device, '/debian');
        await form.getByLabel(/codename/).fill('bookworm');
        await Promise.all([form.waitForNavigation(), form.getByRole('button', { name: 'Ask' }).click()]);
        // The record reads as a list of the file's headers as written, whatever the case typed.
        expect(await form.locator('dl.record dt').allInnerTexts()).toEqual([
          'version',
          'codename',
          'series',
          'created',
          'release',
          'eol',
          'eol-lts',
          'eol-elts',
        ]);
        expect(await form.locator('dl.record dd').nth(1).innerText()).toBe('Bookworm');
        await shoot(await visit(device, '/debian'), 'form', device);
        await shoot(form, 'record', device);

        const results = await visit(device, '/ubuntu_browse');
        expect(await results.locator('caption').innerText()).toBe('rows 1–20 of 44');
        await Promise.all([results.waitForNavigation(), results.getByRole('link', { name: 'Next' }).click()]);
        expect(await results.locator('caption').innerText()).toBe('rows 21–40 of 44');
        // On a phone each row is a card: the table's headings are hidden, each cell says its label.
        expect(await results.locator('thead').isVisible()).toBe(device === 'desktop');
        await shoot(results, 'results', device);

        const error = await visit(device, '/iso3166?code=%01', 400);
        expect(await error.locator('#error').innerText()).toContain("parameter 'code' is invalid");
        await shoot(error, 'error', device);
      });
    }
  },
);
