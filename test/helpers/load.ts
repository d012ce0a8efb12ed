/**
 * A bounded load through HTTP for the cluster tests: `concurrency` clients, each sending the next request as soon
 * as the last one was answered, until stop() or `maxRequests` or `maxMs`, whichever comes first. Every answer is
 * kept with its times, status, X-Roq-Generation and body, so a test can check each one against its generation.
 */
export interface Sample {
  /** ms since the load started */
  sent: number;
  received: number;
  status: number;
  generation?: string;
  body: string;
  error?: string;
}

export interface Load {
  samples: Sample[];
  /** Stops sending and resolves once every request in flight has ended. */
  stop(): Promise<Sample[]>;
}

export function startLoad(url: string, o: { concurrency: number; maxRequests: number; maxMs: number }): Load {
  const t0 = performance.now();
  const samples: Sample[] = [];
  let stopped = false;
  let sent = 0;
  async function client(): Promise<void> {
    while (!stopped && sent < o.maxRequests && performance.now() - t0 < o.maxMs) {
      sent++;
      const s = performance.now() - t0;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
        const body = await res.text();
        samples.push({
          sent: s,
          received: performance.now() - t0,
          status: res.status,
          generation: res.headers.get('x-roq-generation') ?? undefined,
          body,
        });
      } catch (e) {
        samples.push({ sent: s, received: performance.now() - t0, status: 0, body: '', error: (e as Error).message });
      }
    }
  }
  const clients = Promise.all(Array.from({ length: o.concurrency }, client));
  return {
    samples,
    async stop() {
      stopped = true;
      await clients;
      return samples;
    },
  };
}

/**
 * The window in which answers of both generations arrived: from the first answer naming `next` to the last one
 * naming `previous` (0 when they did not overlap).
 */
export function skewWindowMs(samples: readonly Sample[], previous: string, next: string): number {
  const firstNew = Math.min(...samples.filter((s) => s.generation === next).map((s) => s.received));
  const lastOld = Math.max(...samples.filter((s) => s.generation === previous).map((s) => s.received));
  return Math.max(0, lastOld - firstNew);
}
