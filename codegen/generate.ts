/**
 * The generator: schema files in, generated files out, as a pure function (no file system), so that tests compare
 * its output with expected files and `--check` compares it with what is committed.
 */
import { emitCatalog, emitTables } from './emitTables.js';
import { emitQueries, emitRegistry } from './emitQueries.js';
import { emitApp, emitPages, type AppFiles } from './emitApp.js';
import { validateSchemas, type SchemaFiles } from './schema.js';

/** An app's build directory (`<app>/.roq/`) and where its generated files go inside the app. */
export const APP_BUILD_DIR = '.roq';
export const APP_OUTPUT_DIR = `${APP_BUILD_DIR}/generated`;

/** An app of schemas only: no app.json, app.ts nor templates. */
export const NO_APP_FILES: AppFiles = {
  title: 'roq',
  dataNoun: 'data',
  dataDir: 'data',
  hooks: false,
  templates: [],
  pages: [],
};

/**
 * Output path → file text. Throws SchemaError on a bad schema. Paths are relative to the app's directory
 * (.roq/generated/…); the default app is the project root, built like any other.
 */
export function generate(input: SchemaFiles, app: AppFiles = NO_APP_FILES): Map<string, string> {
  const schemas = validateSchemas(input);
  const out = APP_OUTPUT_DIR;
  return new Map([
    [`${out}/catalog.ts`, emitCatalog(schemas)],
    [`${out}/tables.ts`, emitTables(schemas)],
    [`${out}/queries.ts`, emitQueries(schemas)],
    [`${out}/registry.ts`, emitRegistry(schemas)],
    [`${out}/app.ts`, emitApp(app)],
    [`${out}/pages.ts`, emitPages(app)],
  ]);
}
