/** Plain-text checks shared by every parser of outside input. */

// C0 controls and DEL: never part of a name, tag, token or credential; PostgreSQL refuses NUL in text.
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;

/** True when `text` holds a NUL or another control character. */
export function hasControlCharacter(text: string): boolean {
  return CONTROL_CHARACTER.test(text);
}
