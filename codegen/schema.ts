/**
 * Schema validation: the JSON files under schemas/ → checked, normalized specs for the emitters. Every error names
 * the schema file and the field at fault, as `schemas/tables/orders.json: columns[2].type: unknown type 'strng'
 * (expected string, int, float, time, date)`, because that is where the person running codegen must look.
 * This module is the entry point (validateSchemas, which checks the set as a whole) and the set's types; a table's
 * checks live in schema-tables.ts, a query's in schema-queries.ts, and the checker both use in schema-checker.ts.
 */
import { type Obj, type SchemaFile, SchemaError } from './schema-checker.js';
import { type QuerySchema, linkDeclared, validateQuery } from './schema-queries.js';
import { linkReferences, type SourcedTable, validateTable } from './schema-tables.js';

export { SchemaError, type SchemaFile } from './schema-checker.js';
export { type QuerySchema, validateQuery } from './schema-queries.js';
export { validateTable } from './schema-tables.js';

export interface SchemaFiles {
  tables: SchemaFile[];
  queries: SchemaFile[];
}

/** Where generated files import roq's modules and the app's query functions from. */
export interface ImportPaths {
  /** roq's src/, as seen from the generated directory: 'roq', which every build resolves to roq's src/. */
  lib: string;
  /** The app's hand-written query functions, as seen from DIR/.roq/generated/: '../../queries'. */
  queries: string;
  /** The command that regenerates the files, for their headers: `npm run codegen`, or `roq build` for an app. */
  regenerate: string;
}

/** From <app>/.roq/generated/: roq's modules by the bare `roq/` prefix every build resolves, the app's queries two up. */
export const APP_IMPORTS: ImportPaths = {
  lib: 'roq',
  queries: '../../queries',
  regenerate: 'roq build [--app DIR]',
};

export interface Schemas {
  tables: SourcedTable[];
  queries: QuerySchema[];
  /** The directories the schemas came from, for the generated headers. */
  tableDir: string;
  queryDir: string;
  imports: ImportPaths;
}

function dirOf(files: SchemaFile[], fallback: string): string {
  const p = files[0]?.path;
  return p ? p.slice(0, p.lastIndexOf('/') + 1) + '*.json' : fallback;
}

/** Validates a whole schema set; files are taken in path order so output does not depend on directory listing. */
export function validateSchemas(input: SchemaFiles, imports: ImportPaths = APP_IMPORTS): Schemas {
  const byPath = (a: SchemaFile, b: SchemaFile) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const tableFiles = [...input.tables].sort(byPath);
  const queryFiles = [...input.queries].sort(byPath);
  const checked = tableFiles.map(validateTable);
  const tables = checked.map((x) => x.spec);
  tables.forEach((t, i) => {
    const first = tables.findIndex((x) => x.name === t.name);
    if (first !== i)
      throw new SchemaError(t.source, 'table', `table '${t.name}' is also defined in ${tables[first]!.source}`);
    const sameFile = tables.findIndex((x) => x.file === t.file);
    if (sameFile !== i)
      throw new SchemaError(t.source, 'file', `file '${t.file}' is also described by ${tables[sameFile]!.source}`);
  });
  linkReferences(checked);
  const queries = queryFiles.map(validateQuery);
  queries.forEach((q, i) => {
    const json = queryFiles[i]!.json as Obj;
    if (json.table !== undefined) linkDeclared(q, json, tables);
  });
  queries.forEach((q, i) => {
    const first = queries.findIndex((x) => x.name === q.name);
    if (first !== i)
      throw new SchemaError(q.source, 'query', `query '${q.name}' is also defined in ${queries[first]!.source}`);
  });
  return {
    tables,
    queries,
    tableDir: dirOf(tableFiles, 'schemas/tables/*.json'),
    queryDir: dirOf(queryFiles, 'schemas/queries/*.json'),
    imports,
  };
}
