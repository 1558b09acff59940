/**
 * Text a gateway sends in XAUTH-MESSAGE or UNITY_BANNER: bounded, decoded leniently as UTF-8,
 * trailing NULs dropped, and every control, bidi or separator character escaped
 * (src/core/printable.ts) before it can reach an event, a log line or a terminal.
 */
import { printable } from '../../core/printable.js';

/** Longest XAUTH-MESSAGE we pass on (characters, after escaping). */
export const MAX_MESSAGE_CHARS = 512;
/** Longest banner we pass on. */
export const MAX_BANNER_CHARS = 2048;

const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * The escaped, bounded text of an attribute value: a line break becomes the visible `\x0a`, so
 * a gateway cannot forge log lines; longer text is cut and ends with "…".
 */
export function untrustedText(value: Uint8Array, maxChars: number): string {
  let end = value.length;
  while (end > 0 && value[end - 1] === 0) end--;
  // Decode at most 4 bytes per character we could keep, plus one for the cut marker.
  const raw = decoder.decode(value.subarray(0, Math.min(end, 4 * (maxChars + 1))));
  const safe = printable(raw.replace(/\r\n/g, '\n'));
  return safe.length > maxChars ? `${safe.slice(0, maxChars - 1)}…` : safe;
}
