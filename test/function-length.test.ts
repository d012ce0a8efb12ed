/**
 * No hand-written function is over 80 lines. Every TypeScript file of the engine, the generator and the apps is parsed
 * with the TypeScript compiler, and every function-like node (declarations, expressions, arrows, methods,
 * constructors, accessors) is measured from its first line to its last, nested functions included: a closure
 * factory counts as one function, so moving its body into inner closures does not make it short.
 *
 * TypeScript 7 parses in its native compiler; its JavaScript API reaches that compiler through a program whose
 * tsconfig is handed over in memory, listing exactly the files to measure (no libraries, no imports followed).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { isFunctionLikeDeclaration } from 'typescript/unstable/ast/is';
import type { Node, SourceFile } from 'typescript/unstable/ast';
import { API } from 'typescript/unstable/sync';
import { describe, expect, it } from 'vitest';

const MAX_LINES = 80;

/** Folders scanned to any depth; the ones that do not exist (yet) are skipped. */
const TREES = ['src', 'codegen', 'queries'];
/** Folders whose own .ts files are scanned (an app's page modules, its query functions); `*`: every folder there. */
const FLAT = ['templates', 'examples/*/queries', 'examples/*/templates'];
/** Single files: an app's hooks. */
const FILES = ['app.ts', 'examples/*/app.ts'];

/** Not hand-written, or declarations only. */
const SKIPPED = new Set(['src/types.d.ts']);

const root = new URL('..', import.meta.url).pathname;

function isDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

function tsFilesIn(dir: string, deep: boolean): string[] {
  if (!isDir(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return deep ? tsFilesIn(path, true) : [];
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** `examples/*\/queries` → the existing folders it names. */
function expandStar(pattern: string): string[] {
  return pattern.split('/').reduce<string[]>(
    (bases, part) =>
      bases.flatMap((base) =>
        part === '*'
          ? readdirSync(join(root, base), { withFileTypes: true })
              .filter((e) => e.isDirectory())
              .map((e) => join(base, e.name))
          : isDir(join(root, base, part))
            ? [join(base, part)]
            : [],
      ),
    [''],
  );
}

function isGenerated(path: string): boolean {
  return readFileSync(path, 'utf8').startsWith('// GENERATED');
}

function handWrittenFiles(): string[] {
  const files = [
    ...TREES.flatMap((dir) => tsFilesIn(join(root, dir), true)),
    ...FLAT.flatMap(expandStar).flatMap((dir) => tsFilesIn(join(root, dir), false)),
    ...FILES.flatMap((file) => expandStar(dirname(file)).map((dir) => join(root, dir, basename(file)))).filter(
      existsSync,
    ),
  ];
  return files.filter((path) => {
    const name = relative(root, path);
    return !SKIPPED.has(name) && !isGenerated(path);
  });
}

/** A name a reader can find: the function's own, or the variable, property or call it is given to. */
function nameOf(node: Node): string {
  const own = (node as { name?: Node }).name;
  if (own) return own.getText();
  const holder = node.parent as { name?: Node; expression?: Node } | undefined;
  if (holder?.name) return holder.name.getText();
  const callee = holder?.expression;
  if (callee && callee !== node) return `${((callee as { name?: Node }).name ?? callee).getText()}(…) callback`;
  return '(anonymous)';
}

function longFunctions(sourceFile: SourceFile, file: string): string[] {
  const found: string[] = [];
  const visit = (node: Node): void => {
    if (isFunctionLikeDeclaration(node)) {
      const first = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile)).line;
      const last = sourceFile.getLineAndCharacterOfPosition(node.end).line;
      const lines = last - first + 1;
      if (lines > MAX_LINES) found.push(`${file}:${first + 1} ${nameOf(node)} ${lines} lines`);
    }
    node.forEachChild(visit);
  };
  visit(sourceFile);
  return found;
}

/**
 * Parses the files with the TypeScript compiler and returns each function over the limit. `texts` stands in for
 * files that are not on disk.
 */
function measure(files: string[], texts = new Map<string, string>()): string[] {
  const config = join(root, '.function-length', 'tsconfig.json');
  texts.set(config, JSON.stringify({ compilerOptions: { noLib: true, noResolve: true, types: [] }, files }));
  const api = new API({ cwd: root, fs: { readFile: (path) => texts.get(path) } });
  try {
    const program = api.updateSnapshot({ openProject: config }).getProject(config)?.program;
    if (!program) throw new Error('the TypeScript compiler opened no project for the files to measure');
    return files.flatMap((path) => {
      const sourceFile = program.getSourceFile(path);
      if (!sourceFile) throw new Error(`the TypeScript compiler did not parse ${path}`);
      return longFunctions(sourceFile, relative(root, path));
    });
  } finally {
    api.close();
  }
}

describe('function length', () => {
  it(`finds the files to measure, the engine's and the generator's among them`, () => {
    const files = handWrittenFiles().map((path) => relative(root, path));
    expect(files).toContain('src/daemon/pool.ts');
    expect(files).toContain('codegen/schema.ts');
    expect(files).not.toContain('src/types.d.ts');
    expect(files.filter((f) => f.startsWith('src/generated/'))).toEqual([]);
    if (existsSync(join(root, 'app.ts'))) expect(files).toContain('app.ts');
    const appQueries = join(root, 'examples/mac-vendors/queries');
    if (isDir(appQueries))
      expect(files).toEqual(expect.arrayContaining(tsFilesIn(appQueries, false).map((f) => relative(root, f))));
  });

  it('measures a closure factory whole, nested functions included', () => {
    const lines = Array.from({ length: MAX_LINES }, (_, i) => `    const v${i} = ${i};`).join('\n');
    const source = `export function factory() {\n  return () => {\n${lines}\n  };\n}\n`;
    const file = join(root, '.function-length', 'factory.ts');
    expect(measure([file], new Map([[file, source]]))).toEqual([
      `.function-length/factory.ts:1 factory ${MAX_LINES + 4} lines`,
      `.function-length/factory.ts:2 (anonymous) ${MAX_LINES + 2} lines`,
    ]);
  });

  it(`has no hand-written function over ${MAX_LINES} lines`, () => {
    expect(measure(handWrittenFiles())).toEqual([]);
  });
});
