import { describe, expect, it } from 'vitest';
import { answerParser } from '../src/answer-parser.js';
import {
  decodeParams,
  encodeAnswer,
  encodeRequest,
  escapeValue,
  MAX_REQUEST_BYTES,
  parseRequest,
  rowsToObjects,
  findRequest,
  unescapeValue,
  type Answer,
} from '../src/protocol.js';

describe('request lines', () => {
  it('round-trip a query with awkward parameter values', () => {
    const params = { stop: 'a b&c=d', q: 'Ünïcödé 🚆', empty: '' };
    const line = encodeRequest({ kind: 'query', pid: 4242, token: 'Tok3n', query: 'departures', params });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    const parsed = parseRequest(line.slice(0, -1));
    const encoded = line.slice(0, -1).split(' ')[4]!;
    expect(line.startsWith('roq1 4242 Tok3n departures ')).toBe(true); // no proof: version 1, as 0.1 clients send
    expect(parsed).toEqual({
      ok: true,
      request: { kind: 'query', pid: 4242, token: 'Tok3n', query: 'departures', params, encoded },
    });
    const proof = 'S3cretS3cretS3cret';
    const v2 = encodeRequest({ kind: 'query', pid: 4242, token: 'Tok3n', proof, query: 'departures', params });
    expect(v2.startsWith(`roq2 4242 Tok3n ${proof} departures `)).toBe(true);
    expect(parseRequest(v2.slice(0, -1))).toEqual({
      ok: true,
      request: { kind: 'query', pid: 4242, token: 'Tok3n', proof, query: 'departures', params, encoded },
    });
    expect(encoded).not.toMatch(/[ \n]/); // what the access log prints as one field
  });

  it('round-trip control pseudo-requests with pid -1', () => {
    const line = encodeRequest({ kind: 'control', word: 'reload', token: 'r1' });
    expect(line.startsWith('roq2 -1 r1 r1 reload ')).toBe(true);
    expect(parseRequest(line.slice(0, -1))).toEqual({
      ok: true,
      request: { kind: 'control', word: 'reload', token: 'r1' },
    });
  });

  it('refuses a request that would not fit in PIPE_BUF', () => {
    expect(() =>
      encodeRequest({
        kind: 'query',
        pid: 1,
        token: 't',
        query: 'stops',
        params: { q: 'x'.repeat(MAX_REQUEST_BYTES) },
      }),
    ).toThrow(/4096/);
  });

  it.each([
    ['', /6 space-separated/],
    ['roq2 12 tok stops q=x', /6 space-separated/],
    ['roq2 12 tok short stops q=x', /bad proof/],
    ['roq1 -1 tok reload ', /unknown control word/],
    ['roq1 12 tok stops', /5 space-separated/],
    ['roq1 0 tok stops q=x', /bad pid/],
    ['roq1 -7 tok stops q=x', /bad pid/],
    ['roq1 99999999999 tok stops q=x', /bad pid/],
    ['roq1 12 to/k stops q=x', /bad token/],
    ['roq1 12 tok Stops q=x', /bad query name/],
    ['roq1 12 tok stops q=%ZZ', /bad parameter encoding/],
    ['roq1 -1 tok explode ', /unknown control word/],
    ['\u0000\u0001binary garbage', /6 space-separated/],
  ])('drops malformed line %j', (line, reason) => {
    const parsed = parseRequest(line);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });

  it('keeps pid and token of another protocol version so the daemon can answer it', () => {
    const parsed = parseRequest('roq4 77 abc stops q=x');
    expect(parsed).toMatchObject({ ok: false, pid: 77, token: 'abc', version: 'roq4' });
  });

  /** A version 2 `stops` request line of pid 7, without its line end. */
  const stopsLine = (params: Record<string, string>) =>
    encodeRequest({ kind: 'query', pid: 7, token: 'tok', proof: 'P'.repeat(20), query: 'stops', params }).slice(0, -1);

  it('finds the request after garbage that had no line end, however the garbage mimics a request', () => {
    const good = stopsLine({ q: 'roq2 x' });
    for (const garbage of ['x', 'roq2 ', 'roq2 1 2 3 roq1 ', '\u001b[2Jroq2 77 abc', 'y'.repeat(3000)]) {
      const found = findRequest(garbage + good);
      expect(found?.skipped).toBe(garbage.length);
      expect(found?.parsed).toEqual(parseRequest(good));
    }
    expect(findRequest('no request here at all')).toBeUndefined();
  });

  it('resyncs on a garbled line with work linear in its length, however many request prefixes it holds', () => {
    const good = stopsLine({});
    for (const chunk of ['roq1 ', 'roq2 x ', 'roq1 1 t q ']) {
      for (const size of [400, 4000]) {
        const garbage = chunk.repeat(Math.ceil(size / chunk.length));
        for (const line of [garbage, garbage + good]) {
          let parsed = 0;
          findRequest(line, (suffix) => ((parsed += suffix.length), parseRequest(suffix)));
          // Two candidate suffixes at most (version 2's six fields, version 1's five), each at most the line; and
          // the request at the end was parsed through the counting hook.
          expect(parsed).toBeLessThanOrEqual(2 * line.length);
          if (line !== garbage) expect(parsed).toBeGreaterThanOrEqual(good.length);
        }
      }
    }
  });

  it('decodes + as space and keeps the first of repeated names', () => {
    expect(decodeParams('q=a+b&q=c&x')).toEqual({ q: 'a b', x: '' });
  });
});

describe('answers', () => {
  const fields = [
    { name: 'name', type: 'string' as const },
    { name: 'seq', type: 'int' as const },
  ];

  it('escape exactly the framing characters', () => {
    const nasty = 'a,b%c\nd\re %2C';
    expect(escapeValue(nasty)).not.toMatch(/[,\n\r]/);
    expect(unescapeValue(escapeValue(nasty))).toBe(nasty);
    expect(escapeValue('plain')).toBe('plain');
  });

  it('round-trip rows through the incremental parser, fed one byte at a time', () => {
    const answer: Answer = {
      status: 'ok',
      generation: 3,
      fields,
      rows: [
        ['x,y', 1],
        ['', 22],
        ['line\nbreak%', -5],
      ],
    };
    const text = encodeAnswer(answer);
    const parser = answerParser();
    let done = false;
    for (const ch of text) done = parser.push(ch);
    expect(done).toBe(true);
    expect(parser.result()).toEqual(answer);
    expect(rowsToObjects(fields, answer.rows)[0]).toEqual({ name: 'x,y', seq: 1 });
    expect(Object.keys(rowsToObjects(fields, answer.rows)[0]!)).toEqual(['name', 'seq']);
  });

  it('carry float and bool cells typed (bools as true/false on the wire, empty cells as empty values)', () => {
    const typed = [
      { name: 'ratio', type: 'float' as const },
      { name: 'open', type: 'bool' as const },
    ];
    const answer: Answer = {
      status: 'ok',
      generation: 1,
      fields: typed,
      rows: [
        [0.5, true],
        [-3, false],
        ['', ''],
      ],
    };
    const text = encodeAnswer(answer);
    expect(text).toContain('fields=ratio:f,open:b\nrow=0.5,true\nrow=-3,false\nrow=,\n');
    const parser = answerParser();
    expect(parser.push(text)).toBe(true);
    expect(parser.result()).toEqual(answer);
    expect(() => answerParser().push(text.replace('row=0.5,true', 'row=0.5,1'))).toThrow(/bool cell '1'/);
  });

  it('round-trip error answers with the parameter at fault', () => {
    const answer: Answer = {
      status: 'error',
      code: 'ROQ_PARAM_INVALID',
      message: "parameter 'date' is invalid",
      param: 'date',
    };
    const parser = answerParser();
    expect(parser.push(encodeAnswer(answer))).toBe(true);
    expect(parser.result()).toEqual(answer);
  });

  it('is not done before the end line, and rejects a wrong row count or version', () => {
    const text = encodeAnswer({ status: 'ok', generation: 1, fields, rows: [['a', 1]] });
    const parser = answerParser();
    expect(parser.push(text.slice(0, -7))).toBe(false);
    expect(() => parser.result()).toThrow(/incomplete/);
    expect(() => answerParser().push(text.replace('end=1', 'end=2'))).toThrow(/end says 2/);
    expect(() => answerParser().push('roq=9\n')).toThrow(/version 9/);
    expect(() => answerParser().push('garbage\n')).toThrow(/malformed/);
  });

  it('with a proof, counts only the answer that echoes it, skipping forged answers and garbage before it', () => {
    const proof = 'S3cretS3cretS3cret';
    const real: Answer = { status: 'ok', generation: 1, fields, rows: [['real', 1]] };
    const forged = (p?: string) => encodeAnswer({ status: 'ok', generation: 1, fields, rows: [['forged', 666]] }, p);
    const parser = answerParser(proof);
    // A version 1 answer (no proof), one with a guessed proof, an unterminated head, garbage, then the daemon's.
    expect(parser.push(forged() + forged('GuessedGuessedGuessed') + 'roq=2\n' + 'junk\nend=0\n' + 'garbage')).toBe(
      false,
    );
    expect(parser.push('\n' + encodeAnswer(real, proof))).toBe(true);
    expect(parser.result()).toEqual(real);
    expect(parser.rejected).toBe(4);
    // Nothing but forgeries: never done, so the client waits for its deadline and says why.
    const alone = answerParser(proof);
    expect(alone.push(forged('GuessedGuessedGuessed'))).toBe(false);
    expect(alone.rejected).toBe(1);
  });
});
