/**
 * Seeded generators of delimited files for the tests of `roq init`: random files as people export them (every
 * separator, ragged rows, empty files, comment lines, odd headers, quotes, byte-order marks, CRLF) and a many-table
 * CSV export. Each file comes with its rows as the fields a reader should find, so a test can compare what roq
 * serves with what the file says.
 */
import { rng } from './rng.js';

export interface GeneratedFile {
  name: string;
  text: string;
  /** The records after the header line (or all, when there is none), as field texts; [] for an empty file. */
  rows: string[][];
  /** The header line's fields, or undefined when the file has none. */
  header?: string[];
}

type Rng = ReturnType<typeof rng>;

const SEPARATORS = [',', '\t', ';', '|'] as const;

/** One value of a column of this kind; '' sometimes, for optional columns. */
const KINDS: Record<string, (r: Rng, row: number) => string> = {
  id: (_r, row) => String(row + 1),
  int: (r) => String(r.int(-5000, 5000)),
  float: (r) => String(r.int(-99999, 99999) / 100),
  // Numbers that do not read back as written: they must stay text.
  version: (r) => r.pick(['2.0', '4.10', '1.1', '10', '007', '+1', '1e3']),
  yn: (r) => r.pick(['Y', 'N']),
  bool: (r) => r.pick(['true', 'false']),
  date: (r) => `20${r.int(10, 29)}-0${r.int(1, 9)}-${r.int(10, 28)}`,
  clock: (r) => `${r.int(10, 23)}:${r.int(10, 59)}`,
  word: (r) => r.pick(['Bookworm', 'bullseye', 'Jamaica', 'Zürich', 'São Paulo', 'ACME', 'x', '中文']),
  text: (r) => r.pick(['a, b', 'say "hi"', 'two\nlines', '; semi', 'pipe | x', 'tab\there', ' padded ', '#hash']),
};

/** The field as written: quoted when it holds the separator, a quote, a line break or a leading #. */
function field(value: string, sep: string, r: Rng): string {
  if (value === '') return '';
  const must = value.includes(sep) || /["\r\n]/.test(value) || value.startsWith('#') || value.startsWith(' ');
  return must || r.next() < 0.05 ? `"${value.replaceAll('"', '""')}"` : value;
}

/** A header line of these names: plain, or odd (spaces, case, reserved names, unicode, a name repeated). */
function headerNames(r: Rng, kinds: string[]): string[] {
  const odd = ['key', 'rows', 'present', 'EOL LTS', 'Organization Name', 'naïve', 'x-y', 'a_code', 'A'];
  return kinds.map((k, i) => (r.next() < 0.3 ? r.pick(odd) : `${k}_${i}`));
}

/** One random delimited file; `n` names it. */
export function randomFile(r: Rng, n: number): GeneratedFile {
  const name = `${r.pick(['t', 'export', 'Data Set', 'x'])}${n}.${r.pick(['csv', 'tab', 'txt', 'dat', 'psv', 'tsv'])}`;
  if (r.next() < 0.08) return { name, text: '', rows: [] };
  const sep = r.pick(SEPARATORS);
  const width = r.int(1, 6);
  const kinds = Array.from({ length: width }, (_, i) =>
    i === 0 ? r.pick(['id', 'word', 'int']) : r.pick(Object.keys(KINDS)),
  );
  const optional = kinds.map(() => r.next() < 0.2);
  const ragged = r.next() < 0.25;
  const rows = Array.from({ length: r.int(0, 30) }, (_, row) => {
    const cells = kinds.map((k, i) => (optional[i] && r.next() < 0.3 ? '' : KINDS[k]!(r, row)));
    // A ragged file leaves off empty trailing fields, as distro-info's CSVs do.
    while (ragged && cells.length > 1 && cells[cells.length - 1] === '') cells.pop();
    return cells;
  });
  // A line with nothing on it is no record (the scanner skips blank lines): a one-column file's empty values.
  const kept = rows.filter((cells) => cells.join('') !== '' || cells.length > 1);
  const header = r.next() < 0.8 ? headerNames(r, kinds) : undefined;
  const nl = r.next() < 0.2 ? '\r\n' : '\n';
  const comment = r.next() < 0.2;
  const lines: string[] = [];
  if (comment) lines.push('# exported by a generator', `#${(header ?? kinds).join(sep)}`);
  if (header) lines.push(header.map((h) => field(h, sep, r)).join(sep));
  kept.forEach((cells, i) => {
    lines.push(cells.map((c) => field(c, sep, r)).join(sep));
    if (comment && i === 1) lines.push('# a comment among the rows');
  });
  const bom = r.next() < 0.1 ? '\uFEFF' : '';
  const text = lines.length ? bom + lines.join(nl) + (r.next() < 0.9 ? nl : '') : '';
  return { name, text, rows: kept, header };
}

/** A directory's worth of random files, with distinct names. */
export function randomDirectory(seed: number, files: number): GeneratedFile[] {
  const r = rng(seed);
  return Array.from({ length: files }, (_, n) => randomFile(r, n));
}

/**
 * A CSV export of a database of `tables` tables, as a DBMS writes one: a header line, an id key, foreign ids,
 * dates, decimals, flags, quoted text; some tables are empty (a header only, or no bytes at all).
 */
export function csvExport(seed: number, tables: number): GeneratedFile[] {
  const r = rng(seed);
  return Array.from({ length: tables }, (_, t) => {
    const name = `table_${String(t + 1).padStart(2, '0')}.csv`;
    if (t % 12 === 11) return { name, text: '', rows: [] };
    const kinds = [
      'id',
      ...Array.from({ length: r.int(1, 7) }, () => r.pick(['int', 'float', 'date', 'bool', 'word', 'text', 'version'])),
    ];
    const header = kinds.map((k, i) => (i === 0 ? 'id' : `${k}_${i}`));
    const rows =
      t % 12 === 5 ? [] : Array.from({ length: r.int(1, 40) }, (_, row) => kinds.map((k) => KINDS[k]!(r, row)));
    const lines = [header, ...rows].map((cells) => cells.map((c) => field(c, ',', r)).join(','));
    return { name, text: lines.join('\r\n') + '\r\n', rows, header };
  });
}
