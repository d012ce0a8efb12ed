/**
 * The dispatcher's resync after garbage on REQUESTS: what one 4 KB line without a line end costs it (parseRequest,
 * then findRequest, as Core.line does), for a line that mimics request prefixes (`roq1 ` over and over, the
 * hostile case) against plain garbage (the baseline), and the bytes a second a writer would need to keep the
 * dispatcher busy. In process, no daemon: the cost is the parse, not the FIFO.
 */
import { findRequest, MAX_REQUEST_BYTES, parseRequest } from '../src/protocol.js';
import { ms, summary } from './stats.js';

function lineCostMs(line: string, rounds: number): number {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) if (!parseRequest(line).ok) findRequest(line);
    samples.push((performance.now() - t0) / 20);
  }
  return summary(samples).p50;
}

export function resyncBench(quick: boolean, say: (line?: string) => void): void {
  const size = MAX_REQUEST_BYTES - 1;
  const lines = {
    'plain garbage (baseline)': 'x'.repeat(size),
    '`roq1 ` repeated': 'roq1 '.repeat(Math.ceil(size / 5)).slice(0, size),
    '`roq2 1 t ` repeated': 'roq2 1 t '.repeat(Math.ceil(size / 9)).slice(0, size),
  };
  const rounds = quick ? 5 : 25;
  // Interleaved, so that a busy moment of the machine falls on every kind alike.
  const costs = new Map<string, number[]>();
  for (let r = 0; r < 3; r++)
    for (const [name, line] of Object.entries(lines))
      costs.set(name, [...(costs.get(name) ?? []), lineCostMs(line, rounds)]);
  const base = summary(costs.get('plain garbage (baseline)')!).p50;
  say('## Resync after garbage on REQUESTS (one 4 KB line without a line end, in process)');
  say('| line | ms a line | against plain garbage | MB/s to keep the dispatcher busy |');
  say('|---|---:|---:|---:|');
  for (const name of Object.keys(lines)) {
    const cost = summary(costs.get(name)!).p50;
    say(
      `| ${name} | ${ms(cost, 4)} | ${(cost / base).toFixed(1)}× | ${Number((size / 1e6 / (cost / 1000)).toPrecision(3))} |`,
    );
  }
  say();
}
