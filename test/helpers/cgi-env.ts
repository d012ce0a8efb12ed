/**
 * The CGI request a test or the fuzzer makes, and the RFC 3875 environment a web server would give the CGI program
 * for it. Kept free of anything that locates files, so the fuzzer's bundle (bench/fuzz.ts) can use it too.
 */
export type Runtime = 'node' | 'exe';

export interface CgiRequest {
  method?: string;
  /** QUERY_STRING, already encoded. */
  query?: string;
  /** Written to stdin; CONTENT_LENGTH is its byte length unless env sets it. */
  body?: string;
  contentType?: string;
  env?: Record<string, string>;
  runtime?: Runtime;
  /** The CGI program to run (default dist/roq.cgi; tests of older releases pass theirs). */
  program?: string;
  /** The process is killed after this long (default 15 s) and the result says so. */
  timeoutMs?: number;
}

/** The RFC 3875 variables Apache sets for a request to /cgi-bin/roq.cgi, with PATH so Node can find mkfifo. */
export function cgiEnv(req: CgiRequest): Record<string, string> {
  const method = req.method ?? 'GET';
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'roq-test',
    SERVER_NAME: 'localhost',
    SERVER_PORT: '80',
    REQUEST_METHOD: method,
    QUERY_STRING: req.query ?? '',
    SCRIPT_NAME: '/cgi-bin/roq.cgi',
    PATH_INFO: '',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_PORT: '40000',
    HTTP_HOST: 'localhost',
  };
  if (req.body !== undefined) {
    env.CONTENT_LENGTH = String(Buffer.byteLength(req.body));
    env.CONTENT_TYPE = req.contentType ?? 'application/x-www-form-urlencoded';
  }
  return { ...env, ...req.env };
}
