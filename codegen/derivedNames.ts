/**
 * A check codegen makes of the query functions themselves: every `derivedOf(db, 'NAME')` must name a query whose
 * schema has `derive`, or each request would fail at run time ("no derived data for query NAME"). Pure: the
 * modules' texts in, mistakes (file:line:column and what to do) out.
 */

const CALL = /derivedOf\(\s*[A-Za-z_$][\w$]*\s*,\s*(['"])([^'"\n]*)\1/g;

export function derivedNameMistakes(
  modules: readonly { path: string; text: string }[],
  deriving: readonly string[],
): string[] {
  const out: string[] = [];
  for (const { path, text } of modules) {
    for (const m of text.matchAll(CALL)) {
      const name = m[2]!;
      if (deriving.includes(name)) continue;
      const before = text.slice(0, m.index);
      const line = before.split('\n').length;
      const col = m.index - before.lastIndexOf('\n');
      out.push(
        `${path}:${line}:${col}: derivedOf names '${name}', which is no query with "derive" (${deriving.length ? `queries with derive: ${deriving.join(', ')}` : 'no query has derive'})`,
      );
    }
  }
  return out;
}
