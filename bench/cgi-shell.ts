/**
 * The CGI shell shared by the benchmarks' baseline programs (bench/naive-cgi.ts, bench/sqlite-cgi.ts): runs the
 * program's answer and prints it the way roq.cgi prints format=json — a RoqError as its status and
 * {"error": …}, anything else as a plain 500 — so all of them answer the same URL with the same body.
 */
import { RoqError } from '../src/errors.js';

export function serveJson(answer: () => unknown): void {
  let status = 200;
  let body: unknown;
  try {
    body = answer();
  } catch (e) {
    if (!(e instanceof RoqError)) {
      process.stdout.write(
        `Status: 500 Internal Server Error\nContent-Type: text/plain; charset=utf-8\n\n${(e as Error).message}\n`,
      );
      return;
    }
    status = e.status;
    body = { error: { code: e.code, message: e.message, param: e.param } };
  }
  const line = status === 200 ? '200 OK' : `${status} Bad Request`;
  process.stdout.write(`Status: ${line}\nContent-Type: application/json; charset=utf-8\n\n${JSON.stringify(body)}\n`);
}
