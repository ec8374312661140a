// Vitest global setup of the suite-wide no-secrets check (issue 8: "a test greps every event of the
// whole test suite for every key the suite used"). Setup names this run's two capture files and hands
// them to the workers (audit-recording.ts fills them); teardown, which runs after the last test file
// of the project, greps every event for every recorded secret in every encoding, checks each event
// has only schema fields, and fails the run on any finding, or when key operations were recorded but
// no event was.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { AuditCaptureFiles } from './audit-recording.js';

const EVENT_FIELDS = new Set(['schema', 'time', 'operation', 'outcome', 'reason', 'principal', 'command', 'bucket', 'key', 'versionId', 'objectId', 'keks', 'format', 'formatVersion', 'requestId', 'keyFingerprint']);
const KEK_FIELDS = new Set(['providerId', 'keyId']);
/** The plaintext marker test data carries (harness/clients.ts): no event may contain plaintext. */
const PLAINTEXT_MARKER = 'S3CRYPT-PLAINTEXT-MARKER';
/** Shorter secrets than this would match by chance; every key the suite uses is longer. */
const MIN_SECRET_BYTES = 8;

interface Secret {
  readonly kind: string;
  readonly hex: string;
  readonly text: boolean;
}

function readLines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((line) => line.length > 0) : [];
}

/** Every spelling of a secret an event could carry. */
function encodings(secret: Secret): string[] {
  const bytes = Buffer.from(secret.hex, 'hex');
  const forms = [bytes.toString('hex'), bytes.toString('hex').toUpperCase(), bytes.toString('base64'), bytes.toString('base64url'), JSON.stringify([...bytes]).slice(1, -1)];
  if (secret.text) forms.push(bytes.toString('utf8'));
  return forms.filter((form) => form.length > 0);
}

function schemaProblems(event: Record<string, unknown>): string[] {
  const problems = Object.keys(event).filter((field) => !EVENT_FIELDS.has(field)).map((field) => `unknown field ${field}`);
  for (const kek of (event.keks as Record<string, unknown>[] | undefined) ?? []) {
    problems.push(...Object.keys(kek).filter((field) => !KEK_FIELDS.has(field)).map((field) => `unknown kek field ${field}`));
  }
  return problems;
}

/** The check itself, exported for its own test: problems found in one run's capture files. */
export function checkCapture(files: AuditCaptureFiles): { events: number; secrets: number; dataKeys: number; problems: string[] } {
  const eventLines = readLines(files.events);
  const secrets = readLines(files.secrets)
    .map((line) => JSON.parse(line) as Secret)
    .filter((secret) => secret.hex.length / 2 >= MIN_SECRET_BYTES);
  const problems: string[] = [];
  const forms = [...new Map(secrets.flatMap((secret) => encodings(secret).map((form) => [form, secret.kind] as const))).entries()];
  eventLines.forEach((line, index) => {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line) as Record<string, unknown>;
    } catch {
      problems.push(`event ${index + 1} is not JSON`);
      return;
    }
    problems.push(...schemaProblems(event).map((problem) => `event ${index + 1}: ${problem}`));
    const leaked = new Set(forms.filter(([form]) => line.includes(form)).map(([, kind]) => kind));
    for (const kind of leaked) problems.push(`event ${index + 1} contains a ${kind}`);
    if (line.includes(PLAINTEXT_MARKER)) problems.push(`event ${index + 1} contains test plaintext`);
  });
  const dataKeys = secrets.filter((secret) => secret.kind === 'data key').length;
  if (dataKeys > 0 && eventLines.length === 0) problems.push(`${dataKeys} data keys were used through test clients, but no audit event was collected`);
  return { events: eventLines.length, secrets: secrets.length, dataKeys, problems };
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), `s3crypt-audit-${project.name}-`));
  const files: AuditCaptureFiles = { events: join(dir, 'events.jsonl'), secrets: join(dir, 'secrets.jsonl') };
  project.provide('auditCapture', files);
  return () => {
    const result = checkCapture(files);
    const keep = process.env.S3CRYPT_KEEP_AUDIT_CAPTURE === '1';
    if (!keep) rmSync(dir, { recursive: true, force: true });
    console.log(`audit no-secrets check (${project.name}): ${result.events} events, ${result.secrets} secrets (${result.dataKeys} data keys)${keep ? `, kept in ${dir}` : ''}`);
    if (result.problems.length > 0) {
      throw new Error(`audit no-secrets check failed (${project.name}):\n${result.problems.slice(0, 20).join('\n')}`);
    }
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    auditCapture: AuditCaptureFiles;
  }
}
