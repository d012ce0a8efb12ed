/**
 * A tiny subset of mustache, enough for roq's pages and nothing more:
 *
 *   {{name}}  {{a.b}}  {{.}}      the value, HTML-escaped (& < > " ')
 *   {{#name}} … {{/name}}         over each element of an array, once for any other truthy value
 *   {{^name}} … {{/name}}         once when the value is falsy or an empty array
 *   {{! comment }}                nothing
 *
 * There is deliberately no unescaped output ({{{x}}} and {{&x}} are template errors): every value a page shows
 * went through escapeHtml, so no data can become markup. Names are looked up from the innermost section's value
 * outwards, as in mustache. A variable whose value is an object or array is a bug in the caller and throws,
 * rather than printing "[object Object]".
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

/** Line and column (1-based) of an offset, for template errors. */
function where(template: string, offset: number): string {
  const before = template.slice(0, offset).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

const NAME = /^(?:\.|[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*)$/;

/** Parses a template into a tree; throws an Error naming line:column on any malformed or unsupported tag. */
export function parseTemplate(template: string): Node[] {
  const root: Node[] = [];
  const open: { name: string; at: number; children: Node[] }[] = [];
  let children = root;
  let pos = 0; // start of the text not yet consumed
  for (;;) {
    const start = template.indexOf('{{', pos);
    if (start < 0) break;
    const end = template.indexOf('}}', start + 2);
    if (end < 0) throw new Error(`template ${where(template, start)}: '{{' without '}}'`);
    const tag = template.slice(start + 2, end);
    const sigil = tag[0] ?? '';
    // As in mustache, a section or comment tag alone on its line takes the whole line with it, so that templates
    // can be indented freely without leaving blank lines in the page.
    let textEnd = start;
    let next = end + 2;
    if (sigil !== '' && '#^/!'.includes(sigil)) {
      const lineStart = template.lastIndexOf('\n', start - 1) + 1;
      const nl = template.indexOf('\n', next);
      const lineEnd = nl < 0 ? template.length : nl + 1;
      if (
        lineStart >= pos &&
        /^[ \t]*$/.test(template.slice(lineStart, start)) &&
        /^[ \t]*\r?\n?$/.test(template.slice(next, lineEnd))
      ) {
        textEnd = lineStart;
        next = lineEnd;
      }
    }
    if (textEnd > pos) children.push({ kind: 'text', text: template.slice(pos, textEnd) });
    pos = next;
    if (sigil === '!') continue;
    if (sigil === '{' || sigil === '&')
      throw new Error(`template ${where(template, start)}: unescaped output is not supported`);
    const name = ('#^/'.includes(sigil) ? tag.slice(1) : tag).trim();
    if (!NAME.test(name)) throw new Error(`template ${where(template, start)}: bad tag '{{${tag.slice(0, 40)}}}'`);
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
          `template ${where(template, start)}: '{{/${name}}}' closes ${top ? `'{{#${top.name}}}'` : 'no open section'}`,
        );
      }
      children = top.children;
    } else {
      children.push({ kind: 'var', path });
    }
  }
  if (pos < template.length) children.push({ kind: 'text', text: template.slice(pos) });
  const unclosed = open.pop();
  if (unclosed) throw new Error(`template ${where(template, unclosed.at)}: '{{#${unclosed.name}}}' is never closed`);
  return root;
}

function lookup(stack: unknown[], path: string[]): unknown {
  if (path[0] === '.') return stack[stack.length - 1];
  for (let i = stack.length - 1; i >= 0; i--) {
    const scope = stack[i];
    if (scope !== null && typeof scope === 'object' && Object.hasOwn(scope, path[0]!)) {
      let value: unknown = (scope as Record<string, unknown>)[path[0]!];
      for (const key of path.slice(1)) {
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
  for (const node of nodes) {
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
    } else if (!empty) {
      for (const item of Array.isArray(value) ? value : [value]) {
        stack.push(item);
        renderNodes(node.children, stack, out);
        stack.pop();
      }
    }
  }
}

/** Parses once, renders many times. */
export function compileTemplate(template: string): (view: View) => string {
  const nodes = parseTemplate(template);
  return (view) => {
    const out: string[] = [];
    renderNodes(nodes, [view], out);
    return out.join('');
  };
}

export function renderTemplate(template: string, view: View): string {
  return compileTemplate(template)(view);
}
