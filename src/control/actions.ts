/**
 * The CLI's side of admin requests (`roq reload --hold`, `roq swap`, `roq reload --drop-held`): one small file
 * `<run>/action.<id>` naming the action, then ACTION_SIGNAL to the daemon, which takes the file
 * (src/daemon/actions.ts, where the reasons for a file and a signal of its own are given).
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { replaceFile } from '../daemon/private-dir.js';
import { randomToken } from '../token.js';
import type { HoldAction } from './status.js';

export const ACTION_SIGNAL = 'SIGWINCH';
export const ACTION_PREFIX = 'action.';
const PREFIX = ACTION_PREFIX;

/** Writes an admin request and returns its id; the caller then signals the daemon. */
export function writeActionRequest(run: string, action: HoldAction): string {
  // Sortable by time, unique per process and call.
  const id = `${Date.now().toString(36).padStart(10, '0')}.${process.pid}.${randomToken(6)}`;
  // Often run by root in a directory the web server's group may write: replaceFile makes the temporary file
  // O_EXCL|O_NOFOLLOW, so a symlink planted at its name is never followed (writeFileSync would follow it).
  // Readable by the daemon when root writes it for a daemon that runs as its own user (it holds only the action).
  replaceFile(join(run, PREFIX + id), `${action}\n`, 0o644);
  return id;
}

/** Removes a request the daemon never took (the CLI gave up, or the daemon died). */
export function withdrawActionRequest(run: string, id: string): void {
  fs.rmSync(join(run, PREFIX + id), { force: true });
}
