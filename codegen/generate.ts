/**
 * The generator: schema files in, generated files out, as a pure function (no file system), so that tests compare
 * its output with expected files and `--check` compares it with what is committed.
 */
import { emitCatalog, emitTables } from './emitTables.js';
import { emitQueries, emitRegistry } from './emitQueries.js';
import { validateSchemas, type ImportPaths, type SchemaFiles } from './schema.js';

export const OUTPUT_DIR = 'src/generated';

/** Output path (relative to the repository root) → file text. Throws SchemaError on a bad schema. */
/** An app's build directory (`<app>/.roq/`) and where its generated files go inside the app. */
export const APP_BUILD_DIR = '.roq';
export const APP_OUTPUT_DIR = `${APP_BUILD_DIR}/generated`;
/** From <app>/.roq/generated/: roq's modules by the bare `roq/` prefix the app build resolves, the app's queries two up. */
export const APP_IMPORTS: ImportPaths = {
  lib: 'roq',
  queries: '../../queries',
  regenerate: 'roq build --app DIR',
};

/**
 * Output path → file text. Throws SchemaError on a bad schema. Paths are relative to the repository root
 * (src/generated/…), or with `app` set, to the app's directory (.roq/generated/…).
 */
export function generate(input: SchemaFiles, app = false): Map<string, string> {
  const schemas = app ? validateSchemas(input, APP_IMPORTS) : validateSchemas(input);
  const out = app ? APP_OUTPUT_DIR : OUTPUT_DIR;
  return new Map([
    [`${out}/catalog.ts`, emitCatalog(schemas)],
    [`${out}/tables.ts`, emitTables(schemas)],
    [`${out}/queries.ts`, emitQueries(schemas)],
    [`${out}/registry.ts`, emitRegistry(schemas)],
  ]);
}
