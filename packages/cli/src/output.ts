// Printing: sizes as `aws s3 ls` shows them, JSON for scripts, and text from the store made safe for
// a terminal (an object key is attacker-chosen: it must not move the cursor or forge a line).

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** `1.5 MiB` etc., as `aws s3 ls --human-readable` prints sizes (its `human_readable_size`). */
export function humanBytes(bytes: number): string {
  if (bytes === 1) return '1 Byte';
  if (bytes < 1024) return `${bytes} Bytes`;
  let value = bytes / 1024;
  let unit = 0;
  // The next unit as soon as this one would print as 1024.0 (1048575 bytes is 1.0 MiB, not 1024.0 KiB).
  while (Math.round(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${oneDecimal(value)} ${UNITS[unit]}`;
}

/** Python's `'%.1f' % value`: correctly rounded, an exact tie to the even digit (toFixed rounds it up). */
function oneDecimal(value: number): string {
  // `value` is bytes over a power of two, so a tie at one decimal is x.25 or x.75, and `value * 4` is exact.
  const quarters = value * 4;
  if (!Number.isInteger(quarters) || quarters % 2 === 0) return value.toFixed(1);
  const up = Math.round(value * 10);
  return ((up % 2 === 0 ? up : up - 1) / 10).toFixed(1);
}

/** Text with control characters, line and paragraph separators and bidi controls escaped. */
export function displayText(text: string): string {
  return text.replace(/[\p{Cc}\p{Bidi_Control}\u2028\u2029\\]/gu, (char) => (char === '\\' ? '\\\\' : `\\u{${(char.codePointAt(0) as number).toString(16)}}`));
}

/** One JSON document per line (`--json`). */
export function writeJson(stream: NodeJS.WritableStream, value: unknown): void {
  stream.write(`${JSON.stringify(value)}\n`);
}
