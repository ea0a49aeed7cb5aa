/**
 * PostgreSQL array literals: the text `array_in` reads (PostgreSQL docs, 8.15.6 "Array Input and
 * Output Syntax"), for statements that take a whole batch as one parameter per column and
 * `unnest` them. Cheaper on both sides than a JSON array of objects: `json_to_recordset` builds a
 * hash table per object and lexes every key, which was a fifth of PostgreSQL's CPU in
 * bench:ingest; `array_in` only splits on commas and calls each element's input function.
 */

/**
 * Values whose text needs no quoting: numbers, and strings of a validated wire format with no
 * space, comma, brace, quote or backslash (IP and MAC addresses). `null`/`undefined` are NULL.
 */
export function plainArray(values: readonly (string | number | null | undefined)[]): string {
  let text = '{';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (i > 0) text += ',';
    text += value === null || value === undefined ? 'NULL' : value;
  }
  return `${text}}`;
}

/** Any strings: each quoted, its quotes and backslashes escaped. `null`/`undefined` are NULL. */
export function textArray(values: readonly (string | null | undefined)[]): string {
  let text = '{';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (i > 0) text += ',';
    text += value === null || value === undefined ? 'NULL' : quoted(value);
  }
  return `${text}}`;
}

const NEEDS_ESCAPE = /["\\]/;

function quoted(value: string): string {
  return NEEDS_ESCAPE.test(value) ? `"${value.replace(/["\\]/g, '\\$&')}"` : `"${value}"`;
}
