/**
 * Characters a FHIR string may not carry. R4 (http://hl7.org/fhir/R4/datatypes.html#string): strings
 * "SHOULD not contain Unicode character points below 32, except for u0009 (horizontal tab), u0010
 * (carriage return) and u0013 (line feed)". Signpost refuses them: U+0000 cannot be stored in a
 * PostgreSQL text column at all, and the others have no place in clinical or directory text.
 */
const CONTROL_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;

export function hasControlCharacter(text: string): boolean {
  return CONTROL_CHARACTER.test(text);
}

export const CONTROL_CHARACTER_RULE = 'control characters (below U+0020, other than tab, carriage return and line feed) are not allowed';

/** The path to the first string (value or member name) of a parsed JSON value that carries a control character. */
export function controlCharacterPath(value: unknown, path: (string | number)[] = []): (string | number)[] | undefined {
  if (typeof value === 'string') return hasControlCharacter(value) ? path : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [k, v] of Array.isArray(value) ? value.entries() : Object.entries(value)) {
    if (typeof k === 'string' && hasControlCharacter(k)) return [...path, k];
    const found = controlCharacterPath(v, [...path, k]);
    if (found) return found;
  }
  return undefined;
}
