// The body of an S3EC instruction file (`<key>.instruction`): one JSON object of content metadata.
// Writers differ in layout (compact Java, spaced Python, indented) and key order, so it is parsed,
// never compared as text; strictly and bounded like object metadata.
import { quoteUntrusted } from '../../untrusted-text.js';
import { INSTRUCTION_FILE_MARKER, malformed, S3EC_METADATA_NAMES } from './metadata.js';

/** Instruction files hold a wrapped key (RSA-4096: 684 base64 characters) and two small JSON maps. */
const MAX_INSTRUCTION_FILE_BYTES = 32 * 1024;
/** Values a writer may store as nested JSON objects rather than JSON text (Python tolerates both). */
const JSON_MAP_NAMES = new Set(['x-amz-m', 'x-amz-t', 'x-amz-matdesc']);

/**
 * The content metadata entries of an instruction file body. Refuses anything but a JSON object whose
 * names are S3EC metadata names, each once, with string values (a material description or encryption
 * context may also be a nested object of strings, kept as compact JSON text).
 * @internal
 */
export function instructionFileEntries(body: string | Uint8Array): Map<string, string> {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > MAX_INSTRUCTION_FILE_BYTES) throw malformed(`the instruction file is larger than ${MAX_INSTRUCTION_FILE_BYTES} bytes`);
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed('the instruction file is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw malformed('the instruction file is not a JSON object');
  const entries = new Map<string, string>();
  for (const [name, value] of Object.entries(parsed)) {
    if (!S3EC_METADATA_NAMES.has(name)) throw malformed(`the instruction file has ${quoteUntrusted(name)}`);
    // JSON.parse keeps the last of two equal names; another reader may keep the first.
    if (countNames(text, name) !== 1) throw malformed(`${name} appears twice in the instruction file`);
    if (name === INSTRUCTION_FILE_MARKER) continue;
    entries.set(name, entryText(name, value));
  }
  return entries;
}

function entryText(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (JSON_MAP_NAMES.has(name) && typeof value === 'object' && value !== null && !Array.isArray(value)) return JSON.stringify(value);
  throw malformed(`${name} in the instruction file is not a string`);
}

/** Occurrences of `"name":` as a member name (a quote inside a JSON string is escaped, so never matches). */
function countNames(text: string, name: string): number {
  const pattern = new RegExp(`(?<!\\\\)"${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\s*:`, 'g');
  return text.match(pattern)?.length ?? 0;
}
