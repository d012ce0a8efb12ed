/**
 * The generator: schema files in, generated files out, as a pure function (no file system), so that tests compare
 * its output with expected files and `--check` compares it with what is committed.
 */
import { emitCatalog, emitTables } from './emitTables.js';
import { emitQueries, emitRegistry } from './emitQueries.js';
import { validateSchemas, type SchemaFiles } from './schema.js';

export const OUTPUT_DIR = 'src/generated';

/** Output path (relative to the repository root) → file text. Throws SchemaError on a bad schema. */
export function generate(input: SchemaFiles): Map<string, string> {
  const schemas = validateSchemas(input);
  return new Map([
    [`${OUTPUT_DIR}/catalog.ts`, emitCatalog(schemas)],
    [`${OUTPUT_DIR}/tables.ts`, emitTables(schemas)],
    [`${OUTPUT_DIR}/queries.ts`, emitQueries(schemas)],
    [`${OUTPUT_DIR}/registry.ts`, emitRegistry(schemas)],
  ]);
}
