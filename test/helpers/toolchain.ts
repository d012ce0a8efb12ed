import * as fs from 'node:fs';
import { join } from 'node:path';

/** What a production server need not have: Node and npm, Bun, a C/C++ toolchain, Python. */
const ABSENT = new Set([
  'node',
  'nodejs',
  'npm',
  'npx',
  'corepack',
  'bun',
  'cc',
  'gcc',
  'g++',
  'c++',
  'clang',
  'make',
  'python3',
  'node-gyp',
]);

/**
 * Makes `bin` (a new directory) a PATH entry with everything in the system's bin directories except node, npm and
 * a C/C++ toolchain, and returns it: a server's PATH, for the commands a release must run with nothing installed.
 */
export function pathWithoutToolchain(bin: string): string {
  fs.mkdirSync(bin);
  for (const dir of ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) {
      if (
        ABSENT.has(name) ||
        /^(gcc|g\+\+|cc|c\+\+|clang|python|node)[-.0-9]/.test(name) ||
        fs.existsSync(join(bin, name))
      )
        continue;
      fs.symlinkSync(join(dir, name), join(bin, name));
    }
  }
  return bin;
}
