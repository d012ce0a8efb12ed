/**
 * Pieces the web tests share: the relay installed where Apache runs it, and Debian's Chromium.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { installForWeb } from '../../tools/demo/apache.js';
import { ROOT } from './daemon.js';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Puts the relay (dist/roq-relay) into `cgiBin`, where Apache runs it, for any app: the app's daemon renders its
 * pages, so one relay serves them all. Returns the program's path.
 */
export function installRelay(cgiBin: string): string {
  return installForWeb(join(ROOT, 'dist/roq-relay'), join(cgiBin, 'roq-relay'));
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
