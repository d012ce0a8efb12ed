/**
 * The app's generated tables.ts (what codegen writes from the app's directory). This link names the default app's build, the project
 * root's .roq/generated/, for the type checker and the tests; scripts/build.js bundles every program with each
 * src/app/ link resolved to the generated file of the app it builds for (DIR/.roq/generated/). See
 * docs/ARCHITECTURE.md, "Engine and apps".
 */
export * from '../../.roq/generated/tables.js';
