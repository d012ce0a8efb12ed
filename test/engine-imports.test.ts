/**
 * The engine's folders import in one direction, as docs/ARCHITECTURE.md ("What each engine folder may import")
 * draws them: the web layer never reaches into the daemon, the loader or the CLI; the store knows no app; nothing
 * but src/app/ names an app's files, and no module of the engine is part of an import circle (type-only imports
 * aside, which the bundler erases).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..');
const SRC = join(ROOT, 'src');

/** Folder → the folders of src/ its modules may import ('.' is src/'s own top-level modules: protocol, errors…). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  '.': ['.', 'app', 'queries', 'store', 'daemon'],
  app: [],
  store: ['.'],
  queries: ['.', 'app', 'store'],
  web: ['.', 'app'],
  relay: ['.', 'web'],
  load: ['.', 'app', 'queries', 'store', 'control', 'daemon'],
  daemon: ['.', 'app', 'store', 'load', 'control', 'web'],
  control: ['.', 'store', 'daemon', 'cli'],
  init: ['.', 'store', 'daemon'],
  cli: ['.', 'app', 'store', 'load', 'control', 'daemon', 'init', 'web'],
};

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

function engineFiles(): string[] {
  return readdirSync(SRC, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Every relative import and re-export of the engine's modules. */
function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of engineFiles()) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(import|export)(\s+type)?[^;]*?from '(\.[^']+)'/gms)) {
      const to = normalize(join(dirname(file), m[3]!)).replace(/\.js$/, '.ts');
      out.push({ from: file, to, typeOnly: m[2] !== undefined });
    }
  }
  return out;
}

const folderOf = (file: string) => {
  const parts = relative(SRC, file).split('/');
  return parts.length > 1 ? parts[0]! : '.';
};

describe("the engine's imports", () => {
  it('go only where each folder may import', () => {
    const wrong = edges()
      .filter((e) => e.to.startsWith(SRC + '/'))
      .filter((e) => folderOf(e.from) !== folderOf(e.to))
      .filter((e) => !(MAY_IMPORT[folderOf(e.from)] ?? []).includes(folderOf(e.to)))
      .map((e) => `${relative(ROOT, e.from)} imports ${relative(ROOT, e.to)}`);
    expect(wrong).toEqual([]);
  });

  it("leave src/ only through src/app/, for the app's generated files", () => {
    const out = edges()
      .filter((e) => !e.to.startsWith(SRC + '/'))
      .filter((e) => !(folderOf(e.from) === 'app' && relative(ROOT, e.to).startsWith('.roq/generated/')))
      .map((e) => `${relative(ROOT, e.from)} imports ${relative(ROOT, e.to)}`);
    expect(out).toEqual([]);
  });

  it('form no circle', () => {
    const next = new Map<string, string[]>();
    for (const e of edges()) if (!e.typeOnly) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    const state = new Map<string, 'open' | 'done'>();
    const circles: string[] = [];
    const visit = (file: string, path: string[]) => {
      state.set(file, 'open');
      for (const to of next.get(file) ?? []) {
        if (state.get(to) === 'open')
          circles.push([...path.slice(path.indexOf(to)), to].map((f) => relative(ROOT, f)).join(' → '));
        else if (!state.has(to)) visit(to, [...path, to]);
      }
      state.set(file, 'done');
    };
    for (const file of engineFiles()) if (!state.has(file)) visit(file, [file]);
    expect(circles).toEqual([]);
  });
});
