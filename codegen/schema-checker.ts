/**
 * The schema checker: a cursor over one schema file that reports every problem as a SchemaError naming the file and
 * the field at fault. The table and query validators (schema-tables.ts, schema-queries.ts) both read through it.
 */

export interface SchemaFile {
  /** Path as it should appear in messages and generated headers, e.g. schemas/tables/orders.json. */
  path: string;
  json: unknown;
}

export class SchemaError extends Error {
  constructor(file: string, field: string, problem: string) {
    super(`${file}: ${field ? field + ': ' : ''}${problem}`);
    this.name = 'SchemaError';
  }
}

export const SNAKE = /^[a-z][a-z0-9_]*$/;
export const ONE_LINE = /^[^\r\n]*$/;

export type Obj = Record<string, unknown>;

/** A cursor over one schema file: reports problems at a field path. */
export function checker(file: string) {
  const fail = (field: string, problem: string): never => {
    throw new SchemaError(file, field, problem);
  };
  const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : (JSON.stringify(v) ?? String(v)));
  return {
    fail,
    object(v: unknown, field: string, allowed: readonly string[]): Obj {
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        return fail(field, `expected an object, got ${show(v)}`);
      for (const k of Object.keys(v)) {
        if (!allowed.includes(k))
          fail(field ? `${field}.${k}` : k, `unknown property (expected one of ${allowed.join(', ')})`);
      }
      return v as Obj;
    },
    array(v: unknown, field: string): unknown[] {
      if (!Array.isArray(v)) return fail(field, `expected an array, got ${show(v)}`);
      return v;
    },
    string(v: unknown, field: string, pattern?: RegExp, what?: string): string {
      if (typeof v !== 'string') return fail(field, `expected a string, got ${show(v)}`);
      if (pattern && !pattern.test(v)) fail(field, `${show(v)} is not ${what}`);
      return v;
    },
    optString(v: unknown, field: string): string {
      return v === undefined ? '' : this.string(v, field);
    },
    bool(v: unknown, field: string): boolean {
      if (v === undefined) return false;
      if (typeof v !== 'boolean') return fail(field, `expected true or false, got ${show(v)}`);
      return v;
    },
    integer(v: unknown, field: string): number {
      if (typeof v !== 'number' || !Number.isInteger(v)) return fail(field, `expected a whole number, got ${show(v)}`);
      return v;
    },
    oneOf<T extends string>(v: unknown, field: string, options: readonly T[], what: string): T {
      if (!options.includes(v as T)) fail(field, `unknown ${what} ${show(v)} (expected ${options.join(', ')})`);
      return v as T;
    },
    unique(names: string[], field: (i: number) => string, what: string): void {
      names.forEach((n, i) => {
        if (names.indexOf(n) !== i) fail(field(i), `${what} '${n}' appears twice`);
      });
    },
  };
}

export type Checker = ReturnType<typeof checker>;
