/**
 * Temporary directories a test file makes, removed when the file's tests are done — also when they fail. An
 * `afterAll` registered here, at import, belongs to each test file that imports this module (Vitest gives every
 * file its own module graph); `process.on('exit')` would not do, as the forks pool's workers outlive a file and are
 * killed rather than exited. Import it only from tests: it needs Vitest's runner.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

afterAll(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the system's temporary directory, named PREFIX…, removed after the file's tests. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes PATH (a file) after the file's tests, e.g. a screenshot written beside the temporary directories. */
export function removeAfterAll(path: string): string {
  made.push(path);
  return path;
}
