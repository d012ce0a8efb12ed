/** The CGI page's template engine: a mustache subset that can only print escaped text. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileTemplate, escapeHtml, parseTemplate, renderTemplate } from '../src/cgi/template.js';
import { pageView } from '../src/cgi/view.js';
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

describe('template errors name line and column', () => {
  it('refuses unescaped output', () => {
    expect(() => parseTemplate('x\n {{{raw}}}')).toThrow(/template 2:2: unescaped output/);
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

describe('the page template', () => {
  const page = readFileSync(join(ROOT, 'templates/page.html'), 'utf8');
  const now = new Date(2026, 10, 9, 8, 30);

  it('parses, and shows today as the date on the empty form', () => {
    const html = renderTemplate(page, pageView({ kind: 'form' }, {}, '/cgi-bin/roq.cgi', now));
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
    const html = renderTemplate(page, pageView({ kind: 'error', error }, form, '', now));
    expect(html).toContain('role="alert"');
    expect(html).toContain('&lt;x&gt;');
    expect(html).toMatch(/name="date" value="2026-02-30" required aria-invalid="true"/);
    expect(html).toContain('value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"');
    expect(html).not.toContain('<script>');
  });
});
