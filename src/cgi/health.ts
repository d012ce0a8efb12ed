/**
 * The health check for load balancers: `<script>/_health` (PATH_INFO) answers 200 with the generation's content
 * hash: a worker reached it, so REQUESTS is read, the dispatcher hands out work and a worker answers. HAProxy
 * checks it (deploy/haproxy.cfg); the body is plain text with no server paths in it. The relay gives up on an
 * answer after its deadline and says 503 itself.
 */
import { HEALTH_PATH, PING_QUERY } from '../protocol.js';
import { GENERATION_HEADER } from './http-cache.js';
import type { Ask, CgiResponse } from './page.js';

export { HEALTH_PATH };

export function isHealthCheck(env: Record<string, string | undefined>): boolean {
  return env.PATH_INFO === HEALTH_PATH;
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
      body: `ok generation ${a.generation} hash ${a.hash ?? 'unknown'}\n`,
    };
  }
  return { status: 503, headers: [...plain, ['Retry-After', '5']], body: `unavailable: ${a.code}\n` };
}
