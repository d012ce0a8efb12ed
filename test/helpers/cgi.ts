/**
 * Runs the per-request program (the relay dist/roq-relay, or dist/roq.cgi under Node) as a web server would: a
 * child process with an RFC 3875 environment,
 * the body on stdin, the response parsed from stdout. Build first (`node scripts/build.js`; `npm test` does it).
 *
 *   const r = await runCgi({ query: 'q=minal&format=json', env: { ROQ_RUN_DIR: run } });
 *   r.status === 200; r.headers['content-type']; JSON.parse(r.body)
 */
import { join } from 'node:path';
import { cgiEnv, type CgiRequest, type Runtime } from './cgi-env.js';
import { ROOT } from './daemon.js';
import { runFed } from './run.js';

export { cgiEnv, type CgiRequest, type Runtime };

export const CGI = join(ROOT, 'dist/roq.cgi');
export const RELAY = join(ROOT, 'dist/roq-relay');

export interface CgiResult {
  /** From the Status header; 200 when there is none, as RFC 3875 says. */
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
  /** The raw stdout and stderr, exit code, and wall time from spawn to exit. */
  raw: string;
  stderr: string;
  code: number | null;
  ms: number;
}

/** Splits a CGI response into status, headers and body; throws if there is no header block. */
export function parseCgiResponse(raw: string): { status: number; headers: Record<string, string>; body: string } {
  const m = /\r?\n\r?\n/.exec(raw);
  if (!m) throw new Error(`no blank line after the CGI headers in ${JSON.stringify(raw.slice(0, 200))}`);
  const headers: Record<string, string> = {};
  for (const line of raw.slice(0, m.index).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon < 1) throw new Error(`malformed CGI header line ${JSON.stringify(line)}`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = headers.status ? Number(headers.status.split(' ')[0]) : 200;
  return { status, headers, body: raw.slice(m.index + m[0].length) };
}

/**
 * Runs the per-request program once, as Apache runs it: by default the relay (dist/roq-relay, what
 * deploy/apache.conf serves); with runtime 'node', or a program but no runtime, that script under Node (by default
 * dist/roq.cgi). Never rejects on a bad response (the result says what happened), only on spawn failure.
 */
export async function runCgi(req: CgiRequest = {}): Promise<CgiResult> {
  const runtime = req.runtime ?? (req.program === undefined ? 'exe' : 'node');
  // 'exe': the program is an executable of its own (the relay), run as it is.
  const [exe, args] = runtime === 'exe' ? [req.program ?? RELAY, []] : [process.execPath, [req.program ?? CGI]];
  // execve(2) takes C strings: a variable's value ends at its first NUL, whatever the web server was handed.
  const env = Object.fromEntries(Object.entries(cgiEnv(req)).map(([k, v]) => [k, v?.split('\0')[0]]));
  const r = await runFed(exe, args, {
    env,
    cwd: ROOT,
    ...(req.body !== undefined ? { input: Buffer.from(req.body) } : {}),
    ...(req.timeoutMs !== undefined ? { limitMs: req.timeoutMs } : {}),
    label: 'runCgi',
  });
  const raw = r.raw.toString('utf8');
  const ran = { raw, stderr: r.stderr, code: r.code, ms: r.ms };
  try {
    return { ...parseCgiResponse(raw), ...ran };
  } catch (e) {
    return { status: 0, headers: {}, body: '', ...ran, stderr: `${r.stderr}\n[runCgi: ${(e as Error).message}]` };
  }
}
