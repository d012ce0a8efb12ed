/**
 * A tiny subset of mustache, enough for roq's pages and nothing more:
 *
 *   {{name}}  {{a.b}}  {{.}}      the value, HTML-escaped (& < > " ')
 *   {{#name}} … {{/name}}         over each element of an array, once for any other truthy value
 *   {{^name}} … {{/name}}         once when the value is falsy or an empty array
 *   {{> name}}                    the partial `name` (templates/_name.html), included where it stands
 *   {{! comment }}                nothing
 *
 * There is deliberately no unescaped output ({{{x}}} and {{&x}} are template errors): every value a page shows
 * went through escapeHtml, so no data can become markup. Names are looked up from the innermost section's value
 * outwards, as in mustache. A variable whose value is an object or array is a bug in the caller and throws,
 * rather than printing "[object Object]".
 *
 * Partials are resolved when a template is compiled, not when it renders: their trees are spliced into the
 * including template's, so rendering a page with partials does the same work as rendering it written out in one
 * file. A partial sees the view where it is included, like any other part of the template. An unknown partial or
 * a partial that includes itself (directly or through others) is an error naming the file, line and column of the
 * tag at fault, as is every other template error.
 */

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'var'; path: string[] }
  | { kind: 'section'; path: string[]; inverted: boolean; children: Node[] };

export type View = Record<string, unknown>;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A template's text and the file it came from, as its errors name it (e.g. `templates/page.html`). */
export interface TemplateSource {
  file: string;
  text: string;
}

/** The partials a template may include, by the name in `{{> name}}`. */
export type Partials = Readonly<Record<string, TemplateSource>>;

export interface TemplateOptions {
  /** The template's file, for its errors; default `template`. */
  file?: string;
  partials?: Partials;
}

/** `file:line:column` (1-based) of an offset, for template errors. */
function where(source: TemplateSource, offset: number): string {
  const before = source.text.slice(0, offset).split('\n');
  return `${source.file}:${before.length}:${before[before.length - 1]!.length + 1}`;
}

/** What one compilation shares across the partials it includes. */
interface Compilation {
  partials: Partials;
  /** Partials parsed so far: a partial included twice is parsed once (its nodes are never modified). */
  parsed: Map<string, Node[]>;
  /** The partials being included, outermost first: the path to the tag being parsed, for finding cycles. */
  including: string[];
}

/** The nodes of the partial a `{{> name}}` tag at `at` of `source` includes; throws on an unknown name or a cycle. */
function partialNodes(name: string, source: TemplateSource, at: number, c: Compilation): Node[] {
  // A partial's name is part of a file name: no dots, no slashes.
  if (name.includes('.')) throw new Error(`${where(source, at)}: bad partial name '${name.slice(0, 40)}'`);
  const done = c.parsed.get(name);
  if (done) return done;
  const partial = Object.hasOwn(c.partials, name) ? c.partials[name] : undefined;
  if (!partial) {
    const known = Object.keys(c.partials).sort().join(', ') || 'none';
    throw new Error(
      `${where(source, at)}: unknown partial '{{> ${name}}}': there is no templates/_${name}.html (known partials: ${known})`,
    );
  }
  if (c.including.includes(name))
    throw new Error(
      `${where(source, at)}: partial '{{> ${name}}}' includes itself: ${[...c.including, name].join(' → ')}`,
    );
  c.including.push(name);
  const nodes = parseSource(partial, c);
  c.including.pop();
  c.parsed.set(name, nodes);
  return nodes;
}

/** Parses a template into a tree; throws an Error naming file:line:column on any malformed or unsupported tag. */
export function parseTemplate(template: string, options: TemplateOptions = {}): Node[] {
  const c: Compilation = { partials: options.partials ?? {}, parsed: new Map(), including: [] };
  return parseSource({ file: options.file ?? 'template', text: template }, c);
}

/** The error for a tag that parseSource's tagAt does not match (other than a comment). */
function badTag(source: TemplateSource, at: number, tag: string): Error {
  const sigil = tag[0];
  if (sigil === '{' || sigil === '&') return new Error(`${where(source, at)}: unescaped output is not supported`);
  if (sigil === '>') return new Error(`${where(source, at)}: bad partial name '${tag.slice(1).trim().slice(0, 40)}'`);
  return new Error(`${where(source, at)}: bad tag '{{${tag.slice(0, 40)}}}'`);
}

/** One file's tree, with the partials it includes spliced in (through c, which finds cycles). */
function parseSource(source: TemplateSource, c: Compilation): Node[] {
  const template = source.text;
  // One native match per well-formed tag, at its '{{': the sigil, and the name with any spaces around it (`.`, or
  // names of letters, digits, `_` and `-` joined by dots, each starting with a letter or `_`). The parser runs once
  // per CGI process, in the interpreter, where one match costs less than slicing, trimming and testing the tag in
  // steps (compiling a 10 kB page: ~280,000 fewer instructions). Comments and malformed tags take the slower path.
  const tagAt = /\{\{([#^/>]?)\s*(\.|[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)\s*\}\}/y;
  // The rest of a line after a tag, when it is blank: spaces or tabs to its end.
  const blankToEol = /[ \t]*\r?(?:\n|$)/y;
  const root: Node[] = [];
  const open: { name: string; at: number; children: Node[] }[] = [];
  let children = root;
  let pos = 0; // start of the text not yet consumed
  for (;;) {
    const start = template.indexOf('{{', pos);
    if (start < 0) break;
    tagAt.lastIndex = start;
    const m = tagAt.exec(template);
    let sigil = '';
    let name = '';
    let next: number;
    if (m) {
      sigil = m[1]!;
      name = m[2]!;
      next = tagAt.lastIndex;
    } else {
      const end = template.indexOf('}}', start + 2);
      if (end < 0) throw new Error(`${where(source, start)}: '{{' without '}}'`);
      if (template[start + 2] !== '!') throw badTag(source, start, template.slice(start + 2, end));
      // A comment ends at its first '}}': a tag written inside one would end it early and leave the rest on the page.
      const inner = template.indexOf('{{', start + 2);
      if (inner >= 0 && inner < end)
        throw new Error(`${where(source, inner)}: a comment cannot hold '{{': it ends at the first '}}'`);
      sigil = '!';
      next = end + 2;
    }
    // As in mustache, a section, comment or partial tag alone on its line takes the whole line with it, so that
    // templates can be indented freely without leaving blank lines in the page. (Unlike mustache, a partial keeps
    // its own lines' indentation: it is included as its file has it.)
    let textEnd = start;
    if (sigil !== '') {
      blankToEol.lastIndex = next;
      const lineStart = template.lastIndexOf('\n', start - 1) + 1;
      if (blankToEol.test(template) && lineStart >= pos && /^[ \t]*$/.test(template.slice(lineStart, start))) {
        textEnd = lineStart;
        next = blankToEol.lastIndex;
      }
    }
    if (textEnd > pos) children.push({ kind: 'text', text: template.slice(pos, textEnd) });
    pos = next;
    if (sigil === '!') continue;
    if (sigil === '>') {
      children.push(...partialNodes(name, source, start, c));
      continue;
    }
    const path = name === '.' ? ['.'] : name.split('.');
    if (sigil === '#' || sigil === '^') {
      const section: Node = { kind: 'section', path, inverted: sigil === '^', children: [] };
      children.push(section);
      open.push({ name, at: start, children });
      children = section.children;
    } else if (sigil === '/') {
      const top = open.pop();
      if (!top || top.name !== name) {
        throw new Error(
          `${where(source, start)}: '{{/${name}}}' closes ${top ? `'{{#${top.name}}}'` : 'no open section'}`,
        );
      }
      children = top.children;
    } else {
      children.push({ kind: 'var', path });
    }
  }
  if (pos < template.length) children.push({ kind: 'text', text: template.slice(pos) });
  const unclosed = open.pop();
  if (unclosed) throw new Error(`${where(source, unclosed.at)}: '{{#${unclosed.name}}}' is never closed`);
  return root;
}

// Rendering, like parsing, runs once per CGI process and so in the interpreter: indexed loops, because for…of
// over an array goes through the iterator protocol there, a call per element.

function lookup(stack: unknown[], path: string[]): unknown {
  const first = path[0]!;
  if (first === '.') return stack[stack.length - 1];
  for (let i = stack.length - 1; i >= 0; i--) {
    const scope = stack[i];
    if (scope !== null && typeof scope === 'object' && Object.hasOwn(scope, first)) {
      let value: unknown = (scope as Record<string, unknown>)[first];
      for (let k = 1; k < path.length; k++) {
        const key = path[k]!;
        value =
          value !== null && typeof value === 'object' && Object.hasOwn(value, key)
            ? (value as Record<string, unknown>)[key]
            : undefined;
      }
      return value;
    }
  }
  return undefined;
}

function renderNodes(nodes: Node[], stack: unknown[], out: string[]): void {
  for (let n = 0; n < nodes.length; n++) {
    const node = nodes[n]!;
    if (node.kind === 'text') {
      out.push(node.text);
      continue;
    }
    const value = lookup(stack, node.path);
    if (node.kind === 'var') {
      if (value === undefined || value === null) continue;
      if (typeof value === 'object' || typeof value === 'function')
        throw new TypeError(`template value '${node.path.join('.')}' is not text`);
      out.push(escapeHtml(String(value)));
      continue;
    }
    const empty = !value || (Array.isArray(value) && value.length === 0);
    if (node.inverted) {
      if (empty) renderNodes(node.children, stack, out);
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        stack.push(value[i]);
        renderNodes(node.children, stack, out);
        stack.pop();
      }
    } else if (!empty) {
      stack.push(value);
      renderNodes(node.children, stack, out);
      stack.pop();
    }
  }
}

/** Parses once (with the partials it includes), renders many times. */
export function compileTemplate(template: string, options: TemplateOptions = {}): (view: View) => string {
  const nodes = parseTemplate(template, options);
  return (view) => {
    const out: string[] = [];
    renderNodes(nodes, [view], out);
    return out.join('');
  };
}

export function renderTemplate(template: string, view: View, options: TemplateOptions = {}): string {
  return compileTemplate(template, options)(view);
}
