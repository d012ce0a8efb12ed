/**
 * The baseline of the CGI benchmarks: what the original C program did on every request, done in Node. Each request
 * reads and parses with csv-parse every file the departure board needs (stops, stop_times, trips, routes,
 * calendar, calendar_dates) and answers by scanning them — test/reference.ts's naive algorithm, imported rather
 * than copied, since it is the same thing. No daemon, no cache, nothing kept between requests.
 *
 * CGI contract: departures parameters (stop, date, after, route, limit) from QUERY_STRING, validated like roq
 * (a bad one is a 400 naming it; `format` is accepted and ignored so roq.cgi's URLs work unchanged); the feed
 * from the directory in ROQ_DATA_DIR. The body has roq.cgi's JSON shape, {"query":"departures","rows":[…]}.
 * Bundled by scripts/build.js into dist/naive.cgi.
 */
import { parseParams } from '../src/params.js';
import { QUERY_SPECS } from '../src/app/queries.js';
import { referenceFeed } from '../test/reference.js';
import { serveJson } from './cgi-shell.js';

const pad = (n: number) => String(n).padStart(2, '0');

function answer(): unknown {
  const raw = Object.fromEntries(new URLSearchParams(process.env.QUERY_STRING ?? ''));
  delete raw.format;
  const p = parseParams('departures', QUERY_SPECS.departures!.params, raw);
  const dataDir = process.env.ROQ_DATA_DIR;
  if (!dataDir) throw new Error('ROQ_DATA_DIR is not set: it must name the feed directory');
  const after = p.after as number;
  const rows = referenceFeed(dataDir).departures({
    stop: p.stop as string,
    date: raw.date!, // validated above: YYYY-MM-DD
    after: `${pad(Math.floor(after / 3600))}:${pad(Math.floor(after / 60) % 60)}:${pad(after % 60)}`,
    route: p.route as string,
    limit: p.limit as number,
  });
  return { query: 'departures', rows };
}

serveJson(answer);
