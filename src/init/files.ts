/**
 * How `roq init` reads a data directory, which may come from outside (an unpacked archive): only regular files
 * in it, never through a symlink, as the loader reads them (loader.readDataFile), so that what init describes is
 * what the daemon will load; and names it prints (a file's, a heading's) reach the admin's terminal with their
 * control characters written as `\xNN`, never as escapes the terminal would run.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { escapeControls } from '../daemon/log.js';

const { O_RDONLY, O_NOFOLLOW } = fs.constants;

/** Whether `name` in `dir` is a regular file itself (lstat: a symlink to a file is not). */
export function isRegularFile(dir: string, name: string): boolean {
  return fs.lstatSync(join(dir, name)).isFile();
}

/** The bytes of a regular file, opened without following a symlink at its path; throws otherwise. */
export function readRegularFile(path: string): Buffer {
  const fd = fs.openSync(path, O_RDONLY | O_NOFOLLOW);
  try {
    if (!fs.fstatSync(fd).isFile()) throw new Error(`${printable(path)} is not a regular file`);
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Text from the data (file names, headings) as it may be printed on a terminal. */
export const printable = (text: string): string => escapeControls(text);
