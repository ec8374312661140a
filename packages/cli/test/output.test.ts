import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { displayText, humanBytes, writeJson } from '../src/output.js';

describe('humanBytes', () => {
  it('prints sizes as `aws s3 ls --human-readable` does', () => {
    // Each pair as the AWS CLI's human_readable_size prints it.
    const cases: Array<[number, string]> = [
      [0, '0 Bytes'],
      [1, '1 Byte'],
      [2, '2 Bytes'],
      [1023, '1023 Bytes'],
      [1024, '1.0 KiB'],
      [1126, '1.1 KiB'],
      [1536, '1.5 KiB'],
      [1047552, '1023.0 KiB'],
      [1048576, '1.0 MiB'],
      [5 * 1024 ** 3, '5.0 GiB'],
      [1024 ** 4, '1.0 TiB'],
      [5 * 1024 ** 4, '5.0 TiB'], // the largest S3 object
      [1024 ** 5, '1.0 PiB'],
      [2 ** 53, '8.0 PiB'],
      [1024 ** 6, '1.0 EiB'],
    ];
    for (const [bytes, text] of cases) expect(humanBytes(bytes), String(bytes)).toBe(text);
  });

  it('moves to the next unit when the value would round to 1024', () => {
    expect(humanBytes(1048063)).toBe('1023.5 KiB');
    expect(humanBytes(1048064)).toBe('1.0 MiB'); // 1023.5 KiB rounds to 1024
    expect(humanBytes(1048575)).toBe('1.0 MiB');
    expect(humanBytes(1024 ** 3 - 1)).toBe('1.0 GiB');
  });

  it('rounds a tie to the even digit, as Python\'s "%.1f" does', () => {
    expect(humanBytes(1280)).toBe('1.2 KiB'); // 1.25
    expect(humanBytes(1792)).toBe('1.8 KiB'); // 1.75
    expect(humanBytes(2.25 * 1024 ** 2)).toBe('2.2 MiB');
    expect(humanBytes(2.75 * 1024 ** 3)).toBe('2.8 GiB');
  });
});

describe('displayText', () => {
  const escaped = (codePoint: number) => `\\u{${codePoint.toString(16)}}`;

  it('escapes every C0 control, DEL and every C1 control', () => {
    for (let cp = 0; cp <= 0x1f; cp++) expect(displayText(`a${String.fromCodePoint(cp)}b`)).toBe(`a${escaped(cp)}b`);
    for (let cp = 0x7f; cp <= 0x9f; cp++) expect(displayText(`a${String.fromCodePoint(cp)}b`)).toBe(`a${escaped(cp)}b`);
  });

  it('escapes the line and paragraph separators and every bidi control', () => {
    const bidi = [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069];
    for (const cp of [0x2028, 0x2029, ...bidi]) expect(displayText(`a${String.fromCodePoint(cp)}b`), cp.toString(16)).toBe(`a${escaped(cp)}b`);
    // A "Trojan Source" file name: the displayed order is the stored order.
    expect(displayText('invoice\u202Efdp.exe')).toBe('invoice\\u{202e}fdp.exe');
  });

  it('defuses terminal escape sequences and forged lines', () => {
    expect(displayText('a\u001b[2J\u001b]0;pwned\u0007b')).toBe('a\\u{1b}[2J\\u{1b}]0;pwned\\u{7}b');
    expect(displayText('key\nOK: s3://bucket/other')).toBe('key\\u{a}OK: s3://bucket/other');
    expect(displayText('50%\rdone')).toBe('50%\\u{d}done');
  });

  it('escapes the backslash, so an escape in the output always came from an escaped character', () => {
    expect(displayText('a\\b')).toBe('a\\\\b');
    expect(displayText('\\u{1b}')).toBe('\\\\u{1b}');
    expect(displayText('\\u{1b}')).not.toBe(displayText('\u001b'));
  });

  it('leaves printable Unicode alone', () => {
    for (const text of ['', 'reports/2026/q1.csv', 'with space', 'ünïcødé', 'e\u0301', '日本語/キー', 'مرحبا', 'שלום', 'ключ', '🔑 key', '👩‍💻', 'a\u00a0b', 'soft\u00adhyphen', '~!@#$%^&*()_+{}|:"<>?`-=[];\',./']) {
      expect(displayText(text), JSON.stringify(text)).toBe(text);
    }
  });
});

describe('writeJson', () => {
  it('writes one JSON document per line', () => {
    const stream = new PassThrough();
    writeJson(stream, { key: 'a\nb', size: 3 });
    writeJson(stream, [1]);
    expect(String(stream.read())).toBe('{"key":"a\\nb","size":3}\n[1]\n');
  });
});
