/**
 * Pieces the web tests share: an app's CGI program installed where Apache runs it, and Debian's Chromium.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { writeCgi } from '../../tools/demo/apache.js';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Copies a build's CGI program (`dist`: a dist/ directory) into `cgiBin`: the compiled executable `roq-cgi` when
 * Bun built one, else the bundle under this Node. Returns the program's path.
 */
export function installCgi(dist: string, cgiBin: string): string {
  fs.mkdirSync(cgiBin, { recursive: true });
  if (!fs.existsSync(join(dist, 'roq-cgi')))
    return writeCgi(cgiBin, 'roq.cgi', process.execPath, fs.readFileSync(join(dist, 'roq.cgi'), 'utf8'));
  const program = join(cgiBin, 'roq-cgi');
  fs.copyFileSync(join(dist, 'roq-cgi'), program);
  fs.chmodSync(program, 0o755);
  return program;
}

/**
 * Debian's Chromium, headless. playwright-core adds --headless (Chromium's new headless mode since 132) and, with
 * chromiumSandbox false, --no-sandbox, which Chromium needs when run as root (CI); saying it here keeps that true if
 * defaults change.
 */
export function launchChromium(timeoutMs: number): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false, timeout: timeoutMs });
}

/** What a browser test starts, stopped each on its own, so that one failing still lets the others clean up. */
export async function stopWeb(web: {
  contexts: BrowserContext[];
  browser?: Browser;
  apache?: { stop(): Promise<void> };
  daemon?: { stop(): Promise<void> };
  base?: string;
}): Promise<void> {
  await Promise.allSettled(web.contexts.map((c) => c.close()));
  await web.browser?.close().catch(() => undefined);
  await web.apache?.stop().catch(() => undefined);
  await web.daemon?.stop().catch(() => undefined);
  if (web.base) fs.rmSync(web.base, { recursive: true, force: true });
}
