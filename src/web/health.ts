/**
 * The health check for load balancers: `<script>/_health` (PATH_INFO) answers 200 with the generation's content
 * hash. The dispatcher answers it itself, as it answers a ping (protocol.PING_QUERY), running no query and waiting
 * for no worker; the relay gives up on an answer after its deadline and says 503 itself. HAProxy checks it
 * (deploy/haproxy.cfg); the body is plain text with no server paths in it: the generation, then `state
 * ok|warning|critical` and the kinds of the events that have not ended (docs/OPERATIONS.md, "When roq asks for
 * help").
 */
import { HEALTH_PATH, PING_QUERY } from '../protocol.js';
import { GENERATION_HEADER } from './http-cache.js';
import type { Ask, CgiResponse } from './outcome.js';

export { HEALTH_PATH };

export function isHealthCheck(env: Record<string, string | undefined>): boolean {
  return env.PATH_INFO === HEALTH_PATH;
}

/**
 * The daemon's own view of its health (roq health's state and the kinds of its events), from the ping's one row:
 * the answer stays 200 whatever it says, since every node of a cluster serves the same data and a balancer must
 * not take them all out for it.
 */
function stateLine(row: readonly unknown[] | undefined): string {
  if (!row || typeof row[0] !== 'string') return '';
  return `state ${row[0]}${typeof row[1] === 'string' && row[1] ? ` ${row[1]}` : ''}\n`;
}

export function healthResponse(ask: Ask): CgiResponse {
  const plain: [string, string][] = [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Cache-Control', 'no-store'],
  ];
  const a = ask(PING_QUERY, {});
  if (a.status === 'ok') {
    return {
      status: 200,
      headers: [...plain, ...(a.hash ? ([[GENERATION_HEADER, a.hash]] as [string, string][]) : [])],
      body: `ok generation ${a.generation} hash ${a.hash ?? 'unknown'}\n${stateLine(a.rows[0])}`,
    };
  }
  return { status: 503, headers: [...plain, ['Retry-After', '5']], body: `unavailable: ${a.code}\n` };
}
