// Text that came from the store (key ids, metadata) must never reach an error message or a log raw:
// control characters, line separators and bidi overrides would let an attacker forge log lines.

const MAX_SHOWN = 120;

/**
 * Quotes attacker-controlled text for a message: every character outside printable ASCII is escaped
 * as `\u{…}`, and text longer than `maxLength` characters is cut.
 */
export function quoteUntrusted(text: string, maxLength = MAX_SHOWN): string {
  let shown = '';
  let count = 0;
  for (const char of text) {
    if (count++ === maxLength) {
      shown += '…';
      break;
    }
    const code = char.codePointAt(0) as number;
    shown += code >= 0x20 && code <= 0x7e && char !== '"' && char !== '\\' ? char : `\\u{${code.toString(16)}}`;
  }
  return `"${shown}"`;
}
