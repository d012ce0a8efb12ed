/**
 * Emits an app's .roq/generated/app.ts (what the app is: its title and data noun from app.json, and the hooks its
 * optional app.ts exports, type-checked against AppHooks) and .roq/generated/pages.ts (its templates as text, and
 * its page modules: templates/NAME.ts beside templates/NAME.html). The engine reads both through src/app/.
 */
import { header, quote } from './names.js';

/** The app's directory as codegen found it: app.json, app.ts, templates/. */
export interface AppFiles {
  /** app.json's `title` (default: the app directory's name). */
  title: string;
  /** app.json's `dataNoun`: what the data is to its users ("price list"); default "data". */
  dataNoun: string;
  /** app.json's `data`: the data directory commands use when given no --data (default "data"). */
  dataDir: string;
  /** app.json's `example`: a `roq query` line for `roq query --help` (default: one made from the first query). */
  example?: string;
  /** Whether the app has an app.ts of hooks. */
  hooks: boolean;
  /** templates/*.html, by name without `.html`, sorted. */
  templates: string[];
  /** The templates that have a page module (templates/NAME.ts), sorted. */
  pages: string[];
}

const SOURCE = 'app.json, app.ts and templates/';
const REGENERATE = 'roq build [--app DIR]';

export function emitApp(app: AppFiles): string {
  const hooks = app.hooks
    ? `import * as hooks from '../../app.js';\n\n/** app.ts's exports, checked against what the engine calls. */\nconst APP_HOOKS: AppHooks<Db> = hooks;\n`
    : `\n/** The app has no app.ts: no hooks. */\nconst APP_HOOKS: AppHooks<Db> = {};\n`;
  return `${header(SOURCE, REGENERATE)}/** What the app is, for the engine: its name on pages, the word for its data in messages, its hooks. */
import type { AppHooks, AppInfo } from 'roq/app-info.js';
import type { Db } from './tables.js';
${hooks}
export const APP_INFO: AppInfo<Db> = {
  title: ${quote(app.title)},
  dataNoun: ${quote(app.dataNoun)},
  dataDir: ${quote(app.dataDir)},${app.example === undefined ? '' : `\n  example: ${quote(app.example)},`}
  ...APP_HOOKS,
};
`;
}

export function emitPages(app: AppFiles): string {
  const templateImports = app.templates.map(
    (t, i) => `import template${i} from ${quote(`../../templates/${t}.html`)};`,
  );
  const pageImports = app.pages.map((t, i) => `import { page as page${i} } from ${quote(`../../templates/${t}.js`)};`);
  const templates = app.templates.map((t, i) => `  ${quote(t)}: template${i},`);
  const pages = app.pages.map((t, i) => `  { template: ${quote(t)}, page: page${i} },`);
  return `${header(SOURCE, REGENERATE)}/**
 * The app's templates (templates/NAME.html; partials are _NAME) as text built into the programs, and its page
 * modules (templates/NAME.ts exporting \`page\`), in the order of their names: the first that answers a query wins.
 */
import type { AppPageEntry } from 'roq/web/pages.js';
${[...templateImports, ...pageImports].join('\n')}

export const APP_TEMPLATES: Readonly<Record<string, string>> = {
${templates.join('\n')}
};

export const APP_PAGES: readonly AppPageEntry[] = [
${pages.join('\n')}
];
`;
}
