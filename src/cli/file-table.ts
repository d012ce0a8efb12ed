/**
 * The per-file lines of `roq check`, `roq reload`, `roq swap` and `roq status`: each file's rows (and bytes), the
 * names padded to the longest so the numbers stay in columns whatever the files are called, and "1 row", not
 * "1 rows".
 */

export interface FileFigures {
  file: string;
  rows: number;
  bytes?: number;
}

/** `n row` or `n rows`; the singular padded so that the next column stays where the plural puts it. */
export function rowsWord(n: number): string {
  return n === 1 ? 'row ' : 'rows';
}

export function fileLines(files: readonly FileFigures[], indent = '  '): string[] {
  const width = Math.max(20, ...files.map((f) => f.file.length));
  return files.map((f) => {
    const bytes = f.bytes === undefined ? '' : ` ${String(f.bytes).padStart(12)} bytes`;
    return `${indent}${f.file.padEnd(width)} ${String(f.rows).padStart(10)} ${rowsWord(f.rows)}${bytes}`.trimEnd();
  });
}
