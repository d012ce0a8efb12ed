/**
 * Apps for tests: a private copy of an app directory (its schemas, query functions and templates, not its data or
 * build), so that each test file builds into its own DIR/.roq/ and never into the repository.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './daemon.js';

export const MAC_APP = join(ROOT, 'examples/mac-vendors');
export const MAC_DATA = join(MAC_APP, 'data');

/** Copies the app's schemas/, queries/, templates/, app.json and app.ts into a fresh temporary directory. */
export function copyApp(app: string): string {
  const dir = fs.mkdtempSync(join(tmpdir(), 'roq-app-'));
  for (const d of ['schemas', 'queries', 'templates', 'app.json', 'app.ts']) {
    if (fs.existsSync(join(app, d))) fs.cpSync(join(app, d), join(dir, d), { recursive: true });
  }
  return dir;
}

/** Every file under dir (relative paths), for checking what a build wrote. */
export function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/** Writes files given as relative path → text (JSON values are written as JSON) into a new temporary directory. */
export function writeTree(files: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(join(tmpdir(), 'roq-tree-'));
  for (const [path, content] of Object.entries(files)) {
    fs.mkdirSync(join(dir, path, '..'), { recursive: true });
    fs.writeFileSync(join(dir, path), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}
