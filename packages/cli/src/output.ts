// Printing: sizes as `aws s3 ls` shows them, JSON for scripts, and text from the store made safe for
// a terminal (an object key is attacker-chosen: it must not move the cursor or forge a line).

/** `1.5 MiB` etc., as `aws s3 ls --human-readable` prints sizes. */
export function humanBytes(bytes: number): string {
  const units = ['Bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} Bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Text with control characters, line and paragraph separators and bidi controls escaped. */
export function displayText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\\]/g, (char) => (char === '\\' ? '\\\\' : `\\u{${(char.codePointAt(0) as number).toString(16)}}`));
}

/** One JSON document per line (`--json`). */
export function writeJson(stream: NodeJS.WritableStream, value: unknown): void {
  stream.write(`${JSON.stringify(value)}\n`);
}
