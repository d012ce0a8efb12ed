/**
 * Which build of roq this is. scripts/build.js writes the release (package.json's version) and the commit it was
 * built from (`git rev-parse --short HEAD`, with `-dirty` for uncommitted changes; empty without git) into the
 * bundles. Unbundled (tests): 'dev' and ''. Two builds of one version differ by their commit.
 */
import { realpathSync } from 'node:fs';
import { basename, dirname } from 'node:path';

declare const ROQ_VERSION: string | undefined;
declare const ROQ_COMMIT: string | undefined;
export const VERSION: string = typeof ROQ_VERSION === 'string' ? ROQ_VERSION : 'dev';
export const COMMIT: string = typeof ROQ_COMMIT === 'string' ? ROQ_COMMIT : '';

/**
 * The release directory a program runs from, as deploy/install-release.sh names it: PREFIX/releases/NAME/dist/roq.js
 * → NAME (symbolic links such as PREFIX/current resolved); undefined when run from a checkout.
 */
export function releaseOf(script: string | undefined): string | undefined {
  if (!script) return undefined;
  let path: string;
  try {
    path = realpathSync(script);
  } catch {
    return undefined;
  }
  const release = dirname(dirname(path));
  return basename(dirname(release)) === 'releases' ? basename(release) : undefined;
}

export interface Build {
  version?: string;
  commit?: string;
  release?: string;
}

/** "0.2.0 (commit 51c5d17, release 0.2.0-51c5d17)", naming only what is known. */
export function buildLabel(b: Build): string {
  const extra = [b.commit && `commit ${b.commit}`, b.release && `release ${b.release}`].filter(Boolean).join(', ');
  return `${b.version ?? 'unknown release'}${extra ? ` (${extra})` : ''}`;
}

/** This program's build; asked when needed, not at start-up (the CGI program imports this module too). */
export function thisBuild(): Build {
  const release = releaseOf(process.argv[1]);
  return { version: VERSION, commit: COMMIT, ...(release ? { release } : {}) };
}
