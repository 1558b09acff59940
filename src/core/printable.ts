/**
 * Escaping of untrusted text before it reaches a terminal or a log line. A gateway chooses its IKE
 * identity, its certificate subjects and the text of some errors; printed raw, control characters
 * in them can retitle or rewrite the user's terminal (ESC, CSI, OSC sequences), forge log lines
 * (CR, LF) or reorder what is shown (Unicode bidi overrides, "Trojan Source").
 *
 * Pure functions: no I/O.
 */

/**
 * Characters that never reach a terminal as themselves:
 * - C0 controls U+0000–U+001F (all of them, TAB, CR and LF included) and DEL U+007F;
 * - C1 controls U+0080–U+009F (U+009B is a one-character CSI on many terminals);
 * - bidi formatting: ALM U+061C, LRM/RLM U+200E–U+200F, embeddings and overrides U+202A–U+202E,
 *   isolates U+2066–U+2069 (Unicode UAX #9);
 * - the line and paragraph separators U+2028–U+2029 (some terminals and viewers break lines there).
 */

const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The characters a JSON string can still carry raw after JSON.stringify (it escapes C0 only). */
const UNSAFE_AFTER_JSON =
  /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}

/**
 * `text` with every unsafe character replaced by a visible escape: `\x1b` for C0 controls and
 * DEL, `\u009b` / `\u202e` for C1 controls and bidi characters. Everything else (printable ASCII,
 * other Unicode, backslashes) is left as it is. Idempotent: the output has nothing left to escape.
 */
export function printable(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const c = ch.charCodeAt(0);
    return c < 0x80 ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`;
  });
}

/**
 * JSON.stringify(value) safe for a terminal: still valid JSON that parses to the same value, but
 * DEL, C1 controls and bidi characters are written as `\u0080`-style escapes too (JSON.stringify
 * leaves them raw). Those characters can only occur inside JSON strings, where `\uXXXX` is valid.
 */
export function printableJson(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(
    UNSAFE_AFTER_JSON,
    (ch) => `\\u${hex(ch.charCodeAt(0), 4)}`,
  );
}
