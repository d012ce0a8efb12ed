import { describe, expect, it } from 'vitest';
import { encodeRequest, findRequest, MAX_REQUEST_BYTES, parseRequest } from '../src/protocol.js';
import {
  emptyWebFields,
  encodeWebAnswer,
  MAX_WEB_RESPONSE_BYTES,
  parseWebForm,
  webAnswerKey,
  webAnswerParser,
  type WebFields,
} from '../src/web-protocol.js';
import { siphash24 } from '../src/siphash.js';

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const enc = (s: string) => new TextEncoder().encode(s);

describe('SipHash-2-4', () => {
  // vectors.h of the reference implementation (key 00 01 … 0f, message 00 01 … n−1), each read as a 64-bit
  // little-endian number and written most significant digit first; n = 15 is the paper's appendix example.
  const vectors = [
    '726fdb47dd0e0e31',
    '74f839c593dc67fd',
    '0d6c8009d9a94f5a',
    '85676696d7fb7e2d',
    'cf2794e0277187b7',
    '18765564cd99a68d',
    'cbc9466e58fee3ce',
    'ab0200f58b01d137',
    '93f5f5799a932462',
    '9e0082df0ba9e4b0',
    '7a5dbbc594ddb9f3',
    'f4b32f46226bada7',
    '751e8fbc860ee5fb',
    '14ea5627c0843d90',
    'f723ca908e7af2ee',
    'a129ca6149be45e5',
    '3f2acc7f57c29bdb',
  ];
  it('gives the reference vectors for messages of 0 to 16 bytes', () => {
    vectors.forEach((want, n) => expect(siphash24(bytes(16), bytes(n)), `n=${n}`).toBe(want));
  });
  it('gives the same digest whatever the alignment of the bytes in memory', () => {
    for (let n = 0; n < 70; n++) {
      const shifted = new Uint8Array(n + 3).subarray(3);
      shifted.set(bytes(n));
      expect(siphash24(bytes(16), shifted), `n=${n}`).toBe(siphash24(bytes(16), bytes(n)));
    }
  });

  it('depends on every key byte and every message byte', () => {
    const base = siphash24(bytes(16), bytes(40));
    for (let i = 0; i < 16; i++) {
      const k = bytes(16);
      k[i]! ^= 1;
      expect(siphash24(k, bytes(40))).not.toBe(base);
    }
    for (let i = 0; i < 40; i++) {
      const m = bytes(40);
      m[i]! ^= 0x80;
      expect(siphash24(bytes(16), m)).not.toBe(base);
    }
  });
});

const fields = (over: Partial<WebFields>): WebFields => ({ ...emptyWebFields(), ...over });

describe('web request lines', () => {
  it('carry the CGI request, every byte outside [A-Za-z0-9._~-] as %XX, empty fields left out', () => {
    const web = fields({
      method: 'POST',
      script: '/cgi-bin/roq',
      path: '/departures',
      query: 'stop=10%2F2&q=a+b',
      contentType: 'application/x-www-form-urlencoded',
      contentLength: '9',
      body: 'q=Zürich',
      ifNoneMatch: '"abc-def"',
      now: '2026-11-02T07:58:00-05:00',
    });
    const line = encodeRequest({ kind: 'web', pid: 77, token: 'T0k', proof: 'P'.repeat(22), web });
    expect(line).toBe(
      `roq3 77 T0k ${'P'.repeat(22)} .web m=POST&s=%2Fcgi-bin%2Froq&p=%2Fdepartures&q=stop%3D10%252F2%26q%3Da%2Bb` +
        '&t=application%2Fx-www-form-urlencoded&c=9&b=q%3DZ%C3%BCrich&i=%22abc-def%22&n=2026-11-02T07%3A58%3A00-05%3A00\n',
    );
    expect(parseRequest(line.slice(0, -1))).toEqual({
      ok: true,
      request: { kind: 'web', pid: 77, token: 'T0k', proof: 'P'.repeat(22), web },
    });
  });

  it('a GET with nothing set is the word and an empty form', () => {
    const line = encodeRequest({ kind: 'web', pid: 1, token: 'a', proof: 'p'.repeat(16), web: emptyWebFields() });
    expect(line).toBe(`roq3 1 a ${'p'.repeat(16)} .web \n`);
    expect(parseRequest(line.slice(0, -1))).toMatchObject({ ok: true, request: { web: emptyWebFields() } });
  });

  it('decode lower-case hex, bytes that are not UTF-8, unknown names and repeats (the first counts)', () => {
    expect(parseWebForm('q=%c3%bc&x=1&q=no&p=%FF')).toEqual(fields({ query: 'ü', path: '\uFFFD' }));
  });

  it('are refused when they break the grammar, answerably when pid, token and proof are good', () => {
    const proof = 'S'.repeat(20);
    for (const form of ['q=a+b', 'q=%4', 'q=%zz', '=x', 'q', 'q=<']) {
      const parsed = parseRequest(`roq3 5 tok ${proof} .web ${form}`);
      expect(parsed, form).toMatchObject({ ok: false, pid: 5, token: 'tok', proof, web: true });
    }
    expect(parseRequest(`roq3 5 tok ${proof} departures stop=1`)).toMatchObject({ ok: false, web: true });
    const unanswerable = [
      `roq3 -1 tok ${proof} .web `,
      `roq3 5 tok ${proof} .web`,
      `roq3 5 t.k ${proof} .web `,
      'roq3 5 tok short .web ',
    ];
    for (const line of unanswerable)
      expect(parseRequest(line), line).toEqual({ ok: false, reason: expect.any(String) });
  });

  it('are found after garbage a writer left without a line end', () => {
    const line = encodeRequest({ kind: 'web', pid: 9, token: 't', proof: 'q'.repeat(16), web: fields({ path: '/x' }) });
    expect(findRequest(`roq2 garbage${line.slice(0, -1)}`)).toMatchObject({ skipped: 12, parsed: { ok: true } });
  });

  it('never exceed PIPE_BUF: a form too long for one atomic line is refused before it is sent', () => {
    const web = fields({ query: `q=${'x'.repeat(MAX_REQUEST_BYTES)}` });
    expect(() => encodeRequest({ kind: 'web', pid: 1, token: 't', proof: 'p'.repeat(16), web })).toThrow(
      expect.objectContaining({ code: 'ROQ_REQUEST_TOO_LARGE', status: 413 }),
    );
  });
});

describe('web answers', () => {
  const proof = 'Pr00fPr00fPr00fPr00fPr';
  const response = enc('Status: 200 OK\nContent-Type: text/plain; charset=utf-8\nContent-Length: 3\n\nhi\n');

  it('are framed by length and sealed by the digest keyed from the proof', () => {
    const key = webAnswerKey(proof);
    // Bytes 16..21 of the proof are folded onto key bytes 0..5.
    expect(key[0]).toBe('P'.charCodeAt(0) ^ 'r'.charCodeAt(0));
    expect(key[6]).toBe('r'.charCodeAt(0));
    const framed = encodeWebAnswer(proof, response);
    expect(text(framed)).toBe(
      `roq=3\nproof=${proof}\nlength=${response.length}\n${text(response)}end=${siphash24(key, response)}\n`,
    );
    // The worked example of docs/PROTOCOL.md, which the relay's tests check too.
    expect(siphash24(webAnswerKey('0123456789abcdefABCDEF'), enc('Status: 204 No Content\n\n'))).toBe(WORKED_DIGEST);
  });

  it('are read whole, fed one byte at a time', () => {
    const parser = webAnswerParser(proof);
    const framed = encodeWebAnswer(proof, response);
    for (let i = 0; i < framed.length - 1; i++) expect(parser.push(framed.subarray(i, i + 1))).toBe(false);
    expect(parser.push(framed.subarray(framed.length - 1))).toBe(true);
    expect(text(parser.result())).toBe(text(response));
  });

  it('are skipped unless proof, length and digest all check out, and the real one after them is found', () => {
    const real = encodeWebAnswer(proof, response);
    const forged = [
      encodeWebAnswer('X'.repeat(22), enc('Status: 200 OK\n\nforged')), // another proof
      enc(`roq=3\nproof=${proof}\nlength=2\nhiend=0000000000000000\n`), // a digest made up
      enc(`roq=3\nproof=${proof}\nlength=${MAX_WEB_RESPONSE_BYTES + 1}\n`), // longer than any answer
      enc('roq=3\nroq=3\ngarbage\n'),
    ];
    const parser = webAnswerParser(proof);
    for (const f of forged) expect(parser.push(f)).toBe(false);
    expect(parser.push(real)).toBe(true);
    expect(text(parser.result())).toBe(text(response));
    expect(parser.rejected).toBe(5);
  });

  it('are rejected when another writer splices bytes into them', () => {
    const real = encodeWebAnswer(proof, response);
    const cut = 40;
    const spliced = new Uint8Array([...real.subarray(0, cut), ...enc('EVIL'), ...real.subarray(cut)]);
    const parser = webAnswerParser(proof);
    expect(parser.push(spliced)).toBe(false);
    expect(parser.rejected).toBe(1);
  });

  it('refuse a response no relay would take', () => {
    expect(() => encodeWebAnswer(proof, new Uint8Array(MAX_WEB_RESPONSE_BYTES + 1))).toThrow(RangeError);
  });
});

const WORKED_DIGEST = '8f2ed5ee6ff14a44';
