/**
 * The daemon's side of a web request: the CGI response bytes a worker renders (Content-Length, HEAD, 304), the
 * pages the dispatcher writes itself (errors, the health check), and a real daemon answering web request lines —
 * the relay's and malformed ones — over real FIFOs.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFifo, openWebChannel, RESPONSE_FIFO_MODE } from '../src/client.js';
import { mainThreadResponse, responseBytes } from '../src/web/web.js';
import { visitorMessage } from '../src/errors.js';
import { responseFifoName, type Answer } from '../src/protocol.js';
import { emptyWebFields, webAnswerParser, type WebFields } from '../src/web-protocol.js';
import { splitCgiResponse } from '../bench/fuzz.js';
import { startDaemon, writeRequests, type RunningDaemon } from './helpers/daemon.js';

const web = (over: Partial<WebFields> = {}): WebFields => ({
  ...emptyWebFields(),
  method: 'GET',
  script: '/cgi-bin/roq',
  ...over,
});
const split = (bytes: Uint8Array) => splitCgiResponse(bytes)!;

describe('a CGI response as a worker writes it', () => {
  const page = { status: 200, headers: [['Content-Type', 'text/plain; charset=utf-8']] as [string, string][] };

  it('says its Content-Length in bytes; HEAD keeps it and leaves the body out', () => {
    const get = split(responseBytes({ ...page, body: 'Zürich\n' }, false));
    expect(get.headers['content-length']).toBe('8');
    expect(get.body.toString()).toBe('Zürich\n');
    const head = split(responseBytes({ ...page, body: 'Zürich\n' }, true));
    expect(head.headers['content-length']).toBe('8');
    expect(head.body.length).toBe(0);
  });

  it('gives a 304 neither body nor Content-Length', () => {
    const r = split(responseBytes({ status: 304, headers: [['ETag', '"x"']], body: '' }, false));
    expect(r.status).toBe(304);
    expect(r.headers['content-length']).toBeUndefined();
    expect(r.headers.status).toBe('304 Not Modified');
  });

  it('keeps every header on its line, whatever went into its value', () => {
    const r = responseBytes({ status: 303, headers: [['Location', '/x\r\nSet-Cookie: a=b']], body: '' }, false);
    expect(Buffer.from(r).toString()).toContain('Location: /x Set-Cookie: a=b\n');
    expect(split(r).headers['set-cookie']).toBeUndefined();
  });
});

describe('pages the dispatcher writes itself', () => {
  const cases: [Answer, number][] = [
    [{ status: 'error', code: 'ROQ_QUERY_FAILED', message: "query 'stops' failed inside the daemon: <boom>" }, 500],
    [{ status: 'timeout', code: 'ROQ_QUERY_DEADLINE', message: 'ran past its deadline' }, 503],
    [{ status: 'error', code: 'ROQ_DAEMON_BUSY', message: 'the roq daemon request queue on /run/x is full' }, 503],
    [{ status: 'error', code: 'ROQ_WORKER_DIED', message: 'worker died (exit code 3)' }, 500],
    [{ status: 'error', code: 'ROQ_SOMETHING_NEW', message: 'from a newer daemon' }, 500],
  ];

  it.each(cases)('renders %j as the error page with its catalog status, admin details left out', (answer, status) => {
    if (answer.status === 'ok') throw new Error('an error answer');
    const html = split(mainThreadResponse(web({ query: 'q=minal' }), answer));
    expect(html.status).toBe(status);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.body.toString()).toContain('role="alert"');
    expect(html.body.toString()).not.toContain('/run/x');
    expect(html.body.toString()).not.toContain('<boom>');
    if (status === 503) expect(html.headers['retry-after']).toBe('5');
    expect(Number(html.headers['content-length'])).toBe(html.body.length);
    const json = split(mainThreadResponse(web({ query: 'q=minal&format=json' }), answer));
    expect(json.status).toBe(status);
    expect(JSON.parse(json.body.toString()).error.message).toBe(visitorMessage(answer.code, answer.message));
  });

  it('answers the health check with the generation and its hash, HEAD without the body', () => {
    const ok: Answer = { status: 'ok', generation: 7, hash: 'abc123', fields: [], rows: [] };
    const r = split(mainThreadResponse(web({ path: '/_health' }), ok));
    expect(r.status).toBe(200);
    expect(r.headers['x-roq-generation']).toBe('abc123');
    expect(r.body.toString()).toBe('ok generation 7 hash abc123\n');
    const head = split(mainThreadResponse(web({ path: '/_health', method: 'HEAD' }), ok));
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe(r.headers['content-length']);
  });
});

describe('a real daemon answering web requests', () => {
  let daemon: RunningDaemon;
  beforeAll(async () => {
    daemon = await startDaemon({ workers: 1 });
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('renders pages and JSON in its worker, with ETag, 304 and Content-Length', async () => {
    const channel = openWebChannel(daemon.run);
    try {
      const query = 'stop=102&date=2026-11-02&after=08:00&limit=3&format=json';
      const first = split(await channel.request(web({ query }), 5000));
      expect(first.status).toBe(200);
      expect(JSON.parse(first.body.toString())).toMatchObject({ query: 'departures' });
      expect(Number(first.headers['content-length'])).toBe(first.body.length);
      const again = split(await channel.request(web({ query, ifNoneMatch: first.headers.etag! }), 5000));
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
      const board = split(await channel.request(web({ query: 'stop=102', now: '2026-11-02T07:58:00-05:00' }), 5000));
      expect(board.status).toBe(200);
      expect(board.body.toString()).toMatch(/^<!doctype html>/);
    } finally {
      channel.close();
    }
  });

  it('answers a web line it cannot parse with a 400 page, proven like any answer', async () => {
    const token = `bad${process.pid}`;
    const proof = 'P'.repeat(24);
    const path = join(daemon.run, responseFifoName(process.pid, token));
    makeFifo(path, RESPONSE_FIFO_MODE);
    const socket = new net.Socket({ fd: fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK) });
    try {
      const parser = webAnswerParser(proof);
      const answered = new Promise<Uint8Array>((resolve) =>
        socket.on('data', (chunk: Buffer) => parser.push(chunk) && resolve(parser.result())),
      );
      writeRequests(daemon.run, `roq3 ${process.pid} ${token} ${proof} .web m=GET&q=a+b\n`);
      const r = split(await answered);
      expect(r.status).toBe(400);
      expect(r.body.toString()).toContain('role="alert"');
    } finally {
      socket.destroy();
      fs.rmSync(path, { force: true });
    }
  });
});
