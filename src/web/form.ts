/**
 * The form of a query, generated from its parameters: one input per parameter whose type follows the parameter's
 * (text, number with min/max and step, date, time, checkbox), marked required, with the description as help
 * text (the schema's `label` and `help` where it gives them) and the value as submitted. Plain data for the template, which escapes every value.
 */
import type { ParamSpec } from '../params.js';
import { expectedForm } from '../params.js';

export interface InputView {
  name: string;
  label: string;
  /** The input's type attribute. */
  type: string;
  value: string;
  required: boolean;
  checkbox: boolean;
  checked: boolean;
  min?: string;
  max?: string;
  step?: string;
  maxlength?: string;
  help: string;
  /** The parameter named by the error shown, if any. */
  invalid: boolean;
}

const INPUT_TYPE: Record<ParamSpec['type'], string> = {
  string: 'text',
  int: 'number',
  float: 'number',
  bool: 'checkbox',
  date: 'date',
  time: 'time',
};

/** snake_case → "Snake case", the label when the schema gives none. */
export function labelOf(name: string): string {
  const words = name.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function inputOf(p: ParamSpec, form: Record<string, string>, invalidParams: readonly string[]): InputView {
  const value = form[p.name] ?? '';
  const input: InputView = {
    name: p.name,
    label: p.label ?? labelOf(p.name),
    type: INPUT_TYPE[p.type],
    value: p.type === 'bool' ? 'true' : value,
    required: p.required === true,
    checkbox: p.type === 'bool',
    checked: p.type === 'bool' && /^(true|1|yes|on)$/i.test(value),
    help:
      p.help ??
      ([p.description, p.default !== undefined && p.default !== '' ? `default ${String(p.default)}` : '']
        .filter(Boolean)
        .join('; ') ||
        expectedForm(p)),
    invalid: invalidParams.includes(p.name),
  };
  if (p.type === 'int' || p.type === 'float') {
    if (p.min !== undefined) input.min = String(p.min);
    if (p.max !== undefined) input.max = String(p.max);
    input.step = p.type === 'int' ? '1' : 'any';
  }
  if (p.type === 'time') input.step = '1';
  if (p.type === 'string') input.maxlength = String(p.maxLength ?? 256);
  return input;
}
