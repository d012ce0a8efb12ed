/**
 * roq's partials: the parts its pages share, each in src/web/templates/_NAME.html and included with `{{> NAME}}`
 * (src/web/template.ts). An app's own templates include them too, and their own templates/_NAME.html beside them
 * (front.ts). A new partial is a file and a line here: templates reach the programs as strings the bundlers embed
 * (esbuild's text loader), and it cannot list a directory at build time; a test checks that every
 * src/web/templates/_*.html is listed.
 */
import error from './templates/_error.html';
import head from './templates/_head.html';
import when from './templates/_when.html';
import { compileTemplate, type Partials, type TemplateSource, type View } from './template.js';

const own = (name: string, text: string): TemplateSource => ({ file: `src/web/templates/_${name}.html`, text });

export const ROQ_PARTIALS: Partials = {
  error: own('error', error),
  head: own('head', head),
  when: own('when', when),
};

/**
 * Each page compiled once (its partials included): a worker renders thousands of pages, and compiling one costs
 * more than filling it. The templates are built into the program, so a page's key always names the same text:
 * `roq:` and roq's file for roq's own pages, `app:` and the app's file for an app's (an app may have a page of
 * the same file name as one of roq's).
 */
const compiledPages = new Map<string, (view: View) => string>();

/** The compiled page of `file`, compiled with `partials()` the first time `key` is asked for. */
export function compiledPage(
  key: string,
  file: string,
  template: string,
  partials: () => Partials,
): (view: View) => string {
  let page = compiledPages.get(key);
  if (!page) compiledPages.set(key, (page = compileTemplate(template, { file, partials: partials() })));
  return page;
}

/** Renders one of roq's own pages, src/web/templates/FILE, with roq's partials. */
export function renderRoqPage(file: string, template: string, view: View): string {
  return compiledPage(`roq:${file}`, `src/web/templates/${file}`, template, () => ROQ_PARTIALS)(view);
}

/**
 * The partials an app's own templates include: the app's templates/_NAME.html (which build.js hands over with its
 * other templates, under `_NAME`), and roq's for the names the app does not define.
 */
export function appPartials(appTemplates: Readonly<Record<string, string>>): Partials {
  const partials: Record<string, TemplateSource> = { ...ROQ_PARTIALS };
  for (const [name, text] of Object.entries(appTemplates))
    if (name.startsWith('_')) partials[name.slice(1)] = { file: `templates/${name}.html`, text };
  return partials;
}

/**
 * The first mistake in an app's templates (name → text, as build.js hands them to the CGI program), or undefined:
 * every page compiled with its partials, and every partial on its own, so that `roq build` refuses what would
 * otherwise be a 500 at the first visit.
 */
export function appTemplatesMistake(appTemplates: Readonly<Record<string, string>>): string | undefined {
  const partials = appPartials(appTemplates);
  for (const name of Object.keys(appTemplates).sort()) {
    try {
      compileTemplate(appTemplates[name]!, { file: `templates/${name}.html`, partials });
    } catch (e) {
      return (e as Error).message;
    }
  }
  return undefined;
}
