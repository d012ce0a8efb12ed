/**
 * docs/SCHEMAS.md documents every property the schema validator accepts (every list given to checker.object in
 * codegen/schema*.ts, written in the call or as a `*_PROPERTIES` constant), every column, parameter and field type,
 * and every delimiter and format.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
/** The validator's modules: codegen/schema.ts and the schema-*.ts it is split into (tables, queries, checker). */
const source = readdirSync(`${root}codegen`)
  .filter((f) => /^schema(-[a-z]+)?\.ts$/.test(f))
  .map((f) => readFileSync(`${root}codegen/${f}`, 'utf8'))
  .join('\n');
const doc = readFileSync(`${root}docs/SCHEMAS.md`, 'utf8');

function quotedLists(pattern: RegExp): string[] {
  return [...source.matchAll(pattern)].flatMap((m) => [...m[1]!.matchAll(/'([a-zA-Z]+)'/g)].map((x) => x[1]!));
}

describe('docs/SCHEMAS.md', () => {
  it('names every property the validator accepts', () => {
    const props = [
      ...quotedLists(/c\.object\([^[]*\[([^\]]*)\]/g),
      ...quotedLists(/const [A-Z_]+_PROPERTIES[^=]*= \[([^\]]*)\]/g),
    ];
    expect(props.length).toBeGreaterThan(30);
    for (const p of new Set(props)) expect(doc, p).toContain(`\`${p}\``);
  });

  it('names every type, delimiter and format', () => {
    const words = [
      ...quotedLists(/const (?:COLUMN_TYPES|PARAM_TYPES|FIELD_TYPES)[^=]*= \[([^\]]*)\]/g),
      ...quotedLists(/const FORMATS[^=]*= \{([^}]*)\}/g),
      ...Object.keys({ comma: 1, tab: 1, semicolon: 1, pipe: 1 }),
    ];
    expect(words).toEqual(expect.arrayContaining(['float', 'bool', 'iso', 'clock']));
    for (const w of new Set(words)) expect(doc, w).toContain(`\`${w}\``);
  });
});
