/** The CGI page's template engine: a mustache subset that can only print escaped text. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appPartials, appTemplatesMistake, ROQ_PARTIALS } from '../src/web/partials.js';
import { compileTemplate, escapeHtml, parseTemplate, renderTemplate, type Partials } from '../src/web/template.js';
import { pageView } from '../templates/departures.js';
import { ROOT } from './helpers/daemon.js';

describe('escapeHtml', () => {
  it('escapes the five characters that matter in text and attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;',
    );
    expect(escapeHtml('plain text, unchanged')).toBe('plain text, unchanged');
  });
});

describe('variables', () => {
  it('prints values escaped, numbers as text, nothing for missing', () => {
    expect(
      renderTemplate('<p title="{{t}}">{{a}} {{n}} [{{missing}}] [{{nul}}]</p>', {
        t: '"x"',
        a: '<b>',
        n: 7,
        nul: null,
      }),
    ).toBe('<p title="&quot;x&quot;">&lt;b&gt; 7 [] []</p>');
  });

  it('allows spaces inside the braces and prints booleans like mustache', () => {
    expect(renderTemplate('{{ a }}/{{b}}', { a: 1, b: false })).toBe('1/false');
  });

  it('follows dotted names', () => {
    expect(renderTemplate('{{form.q}}|{{form.x.y}}|{{nope.q}}', { form: { q: 'Penn & Co', x: { y: 2 } } })).toBe(
      'Penn &amp; Co|2|',
    );
  });

  it('refuses to print an object or array', () => {
    expect(() => renderTemplate('{{o}}', { o: { a: 1 } })).toThrow(/'o' is not text/);
    expect(() => renderTemplate('{{o}}', { o: [1] })).toThrow(/not text/);
  });

  it('does not read inherited properties', () => {
    expect(renderTemplate('[{{constructor}}][{{toString}}]', {})).toBe('[][]');
  });
});

describe('sections', () => {
  it('repeats over arrays, with {{.}} for the element and outer names still visible', () => {
    const t = '<ul>{{#rows}}<li>{{name}}{{sep}}{{#tags}}[{{.}}]{{/tags}}</li>{{/rows}}</ul>';
    const view = {
      sep: ':',
      rows: [
        { name: 'A<', tags: ['x', '"y"'] },
        { name: 'B', tags: [] },
      ],
    };
    expect(renderTemplate(t, view)).toBe('<ul><li>A&lt;:[x][&quot;y&quot;]</li><li>B:</li></ul>');
  });

  it('renders once for a truthy value, with an object value in scope', () => {
    expect(
      renderTemplate('{{#on}}yes{{/on}}{{#off}}no{{/off}}{{#e}}{{code}} {{top}}{{/e}}', {
        on: true,
        off: false,
        e: { code: 'E1' },
        top: 't',
      }),
    ).toBe('yesE1 t');
  });

  it('inverts on falsy values and empty arrays', () => {
    const t = '{{^rows}}none{{/rows}}{{^zero}}z{{/zero}}{{^s}}s{{/s}}{{^x}}x{{/x}}';
    expect(renderTemplate(t, { rows: [], zero: 0, s: '', x: 'set' })).toBe('nonezs');
  });

  it('drops whole lines that hold only a section or comment tag', () => {
    const t = '<ul>\n  {{#rows}}\n  <li>{{.}}</li>\n  {{/rows}}\n  {{! a comment }}\n</ul>\n';
    expect(renderTemplate(t, { rows: ['a', 'b'] })).toBe('<ul>\n  <li>a</li>\n  <li>b</li>\n</ul>\n');
    expect(renderTemplate('a {{#x}}b{{/x}} c\n', { x: true })).toBe('a b c\n');
  });

  it('nests sections of the same name', () => {
    expect(renderTemplate('{{#a}}{{#b}}{{#a}}[{{v}}]{{/a}}{{/b}}{{/a}}', { a: { v: 1 }, b: true })).toBe('[1]');
  });
});

describe('template errors name file, line and column', () => {
  it('refuses a comment holding a tag, which would end the comment early and leave the rest on the page', () => {
    expect(() => parseTemplate('{{! includes {{> entry}} here }}\n<p>', { file: 'templates/_entry.html' })).toThrow(
      /^templates\/_entry\.html:1:14: a comment cannot hold '\{\{'/,
    );
    expect(renderTemplate('{{! no tag here, only } and { }}x', {})).toBe('x');
  });

  it('refuses unescaped output', () => {
    expect(() => parseTemplate('x\n {{{raw}}}')).toThrow(/^template:2:2: unescaped output/);
    expect(() => parseTemplate('x\n {{{raw}}}', { file: 'templates/x.html' })).toThrow(
      /^templates\/x\.html:2:2: unescaped output/,
    );
    expect(() => parseTemplate('{{&raw}}')).toThrow(/unescaped output/);
  });

  it('refuses unbalanced sections and bad tags', () => {
    expect(() => parseTemplate('{{#a}}x')).toThrow(/1:1: '\{\{#a\}\}' is never closed/);
    expect(() => parseTemplate('{{#a}}{{/b}}')).toThrow(/1:7: '\{\{\/b\}\}' closes '\{\{#a\}\}'/);
    expect(() => parseTemplate('{{/a}}')).toThrow(/closes no open section/);
    expect(() => parseTemplate('{{a b}}')).toThrow(/bad tag/);
    expect(() => parseTemplate('{{a')).toThrow(/without '\}\}'/);
  });

  it('compiles once and renders many views', () => {
    const t = compileTemplate('{{n}}');
    expect([1, 2, 3].map((n) => t({ n }))).toEqual(['1', '2', '3']);
  });
});

/** Partials as files named like roq's: templates/_NAME.html. */
function partials(texts: Record<string, string>): Partials {
  return Object.fromEntries(
    Object.entries(texts).map(([name, text]) => [name, { file: `templates/_${name}.html`, text }]),
  );
}

describe('partials', () => {
  it('includes a partial where its tag stands, with the view in scope there, as often as it is used', () => {
    const p = partials({ item: '<li>{{name}}{{#more}} (more){{/more}}</li>', empty: '' });
    const t = '<ul>{{#rows}}{{> item}}{{/rows}}</ul>{{> item}}{{>empty}}';
    expect(renderTemplate(t, { rows: [{ name: 'a<' }, { name: 'b', more: true }], name: 'top' }, { partials: p })).toBe(
      '<ul><li>a&lt;</li><li>b (more)</li></ul><li>top</li>',
    );
  });

  it('takes the line of a partial tag alone on it, and includes the partial as its file has it', () => {
    const p = partials({ head: '<head>\n  <title>{{t}}</title>\n</head>\n' });
    expect(renderTemplate('<html>\n  {{> head}}\n<body>\n', { t: 'T' }, { partials: p })).toBe(
      '<html>\n<head>\n  <title>T</title>\n</head>\n<body>\n',
    );
  });

  it('includes partials from partials, and partials that open and close their own sections', () => {
    const p = partials({ outer: '[{{> inner}}]', inner: '{{#on}}{{v}}{{/on}}' });
    expect(renderTemplate('{{> outer}}{{> outer}}', { on: { v: 1 } }, { partials: p })).toBe('[1][1]');
  });

  it('names the file, line and column of an unknown partial, and the partials there are', () => {
    const p = partials({ head: 'h', error: '{{#e}}\n {{> nope}}{{/e}}' });
    expect(() => parseTemplate('a\nb {{> hed}}', { file: 'templates/departures.html', partials: p })).toThrow(
      "templates/departures.html:2:3: unknown partial '{{> hed}}': there is no templates/_hed.html (known partials: error, head)",
    );
    // In a partial, the partial's own file and line.
    expect(() => parseTemplate('{{> error}}', { file: 'templates/departures.html', partials: p })).toThrow(
      /^templates\/_error\.html:2:2: unknown partial '\{\{> nope\}\}'/,
    );
    expect(() => parseTemplate('{{> head}}')).toThrow(/^template:1:1: unknown partial .*\(known partials: none\)/);
  });

  it('refuses a partial that includes itself, directly or through others, naming the tag that closes the cycle', () => {
    const p = partials({ a: 'x\n  {{> b}}', b: '{{#s}}{{> c}}{{/s}}', c: '{{> a}}', self: '{{> self}}' });
    expect(() => parseTemplate('{{> a}}', { file: 'templates/departures.html', partials: p })).toThrow(
      "templates/_c.html:1:1: partial '{{> a}}' includes itself: a → b → c → a",
    );
    expect(() => parseTemplate('\n{{> self}}', { partials: p })).toThrow(
      "templates/_self.html:1:1: partial '{{> self}}' includes itself: self → self",
    );
  });

  it('refuses partial names that are not file names, and errors in a partial name its file', () => {
    expect(() => parseTemplate('{{> ../x}}')).toThrow(/^template:1:1: bad partial name '..\/x'/);
    expect(() => parseTemplate('{{> a.b}}')).toThrow(/bad partial name 'a.b'/);
    expect(() => parseTemplate('{{>}}')).toThrow(/bad partial name ''/);
    expect(() => parseTemplate('ok {{> bad}}', { partials: partials({ bad: '\n{{#x}}' }) })).toThrow(
      /^templates\/_bad\.html:2:1: '\{\{#x\}\}' is never closed/,
    );
  });

  it("knows every src/web/templates/_NAME.html as roq's partial NAME", () => {
    const files = readdirSync(join(ROOT, 'src/web/templates')).filter((f) => /^_.*\.html$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const name = f.slice(1, -'.html'.length);
      expect(ROQ_PARTIALS[name], f).toEqual({
        file: `src/web/templates/${f}`,
        text: readFileSync(join(ROOT, 'src/web/templates', f), 'utf8'),
      });
    }
    expect(Object.keys(ROQ_PARTIALS).sort()).toEqual(files.map((f) => f.slice(1, -5)).sort());
  });

  it("gives an app's templates its own partials (templates/_NAME.html) before roq's", () => {
    const p = appPartials({ vendor: 'page', _entry: '<p>{{.}}</p>', _error: 'mine' });
    expect(p.entry).toEqual({ file: 'templates/_entry.html', text: '<p>{{.}}</p>' });
    expect(p.error?.text).toBe('mine');
    expect(p.head).toBe(ROQ_PARTIALS.head);
    expect(p.vendor).toBeUndefined();
  });

  it("finds the first mistake in an app's pages and partials, none in the MAC sample's", () => {
    const dir = join(ROOT, 'examples/mac-vendors/templates');
    const mac = Object.fromEntries(readdirSync(dir).map((f) => [f.slice(0, -5), readFileSync(join(dir, f), 'utf8')]));
    expect(Object.keys(mac).sort()).toEqual(['_entry', 'vendor']);
    expect(appTemplatesMistake(mac)).toBeUndefined();
    expect(appTemplatesMistake({ ...mac, _unused: '\n{{#x}}' })).toBe(
      "templates/_unused.html:2:1: '{{#x}}' is never closed",
    );
  });
});

describe('the page template', () => {
  const page = readFileSync(join(ROOT, 'templates/departures.html'), 'utf8');
  const renderPage = (view: Record<string, unknown>) =>
    renderTemplate(page, view, { file: 'templates/departures.html', partials: ROQ_PARTIALS });
  const now = new Date(2026, 10, 9, 8, 30);

  it('parses, and shows today as the date on the empty form', () => {
    const html = renderPage(pageView({ kind: 'form' }, {}, '/cgi-bin/roq.cgi', now));
    expect(html).toContain('name="date" value="2026-11-09"');
    expect(html).toContain('action="/cgi-bin/roq.cgi"');
    expect(html).toContain('MTA Long Island Rail Road, GTFS static feed');
    expect(html).not.toContain('role="alert"');
  });

  it('marks the parameter at fault and escapes everything that came from the form', () => {
    const form = { stop: '"><script>x</script>', date: '2026-02-30' };
    const error = {
      status: 400,
      code: 'ROQ_PARAM_INVALID',
      message: "parameter 'date' is invalid: got '<x>'",
      param: 'date',
    };
    const html = renderPage(pageView({ kind: 'error', error }, form, '', now));
    expect(html).toContain('role="alert"');
    expect(html).toContain('&lt;x&gt;');
    expect(html).toMatch(/name="date" value="2026-02-30" required aria-invalid="true"/);
    expect(html).toContain('value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"');
    expect(html).not.toContain('<script>');
  });
});
