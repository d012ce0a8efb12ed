/**
 * The floor of the FIFO benchmark: a daemon that does only what any server on REQUESTS must do per request — read
 * the line, open the client's answer FIFO, write one canned answer, close it — on its main thread, with no query,
 * no worker thread, no ownership checks and no access log. bench/main.ts drives it with the same clients as roq,
 * so roq's queries/s against this one's is what roq itself costs, and this one's is what the kernel and the
 * clients leave.
 *
 * Usage: node dist/echo-daemon.js RUN_DIR — prints `ready` once it reads REQUESTS; SIGTERM ends it.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { encodeAnswer, parseRequest, PROTOCOL_VERSION, responseFifoName } from '../src/protocol.js';
import { ensureRequestsFifo, openRequests } from '../src/daemon/fifo.js';
import { ensurePrivateDir } from '../src/daemon/private-dir.js';

// About the size of a departures answer: ten rows of eight fields.
// Everything after the head (version and proof), which each answer gets with its request's proof.
const BODY = encodeAnswer({
  status: 'ok',
  generation: 1,
  fields: ['departure_time', 'route', 'headsign', 'trip', 'stop', 'platform', 'arrival', 'track'].map((name) => ({
    name,
    type: 'string' as const,
  })),
  rows: Array.from({ length: 10 }, (_, i) => [
    '08:0' + i + ':00',
    'Babylon Branch',
    'Babylon',
    `GO103_25_${2000 + i}`,
    'Jamaica',
    'A',
    '08:1' + i + ':00',
    String(i),
  ]),
}).replace(/^roq=1\n/, '');

function main(run: string): void {
  ensurePrivateDir(run); // where a new REQUESTS is made before it is renamed into place
  ensureRequestsFifo(run);
  const socket = new net.Socket({ fd: openRequests(run), readable: true, writable: false });
  let rest = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      const parsed = parseRequest(line);
      if (!parsed.ok || parsed.request.kind !== 'query') continue;
      try {
        const fd = fs.openSync(
          join(run, responseFifoName(parsed.request.pid, parsed.request.token)),
          fs.constants.O_WRONLY | fs.constants.O_NONBLOCK,
        );
        fs.writeSync(fd, `roq=${PROTOCOL_VERSION}\nproof=${parsed.request.proof ?? ''}\n${BODY}`);
        fs.closeSync(fd);
      } catch {
        /* the client is gone: nothing to answer */
      }
    }
  });
  process.on('SIGTERM', () => process.exit(0));
  process.stdout.write('ready\n');
}

main(process.argv[2] ?? '.');
