// The verifier against a tampered log: every single byte changed, records and files deleted,
// inserted and swapped, torn tails, forged and misattributed checkpoints.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditLog, type AuditLogReport } from '@s3crypt/audit';
import { ed25519, segmentFiles, tempDirectory, writeLog } from './helpers.js';

const { privateKey, publicKey } = ed25519();
let pristine: string;

/** A copy of the pristine log (3 sealed segments, 2 events each) in a fresh directory. */
function copyLog(): string {
  const directory = tempDirectory();
  for (const name of segmentFiles(pristine)) writeFileSync(join(directory, name), readFileSync(join(pristine, name)));
  return directory;
}
const lines = (directory: string, name: string) => readFileSync(join(directory, name), 'utf8').split('\n').slice(0, -1);
const writeLines = (directory: string, name: string, content: readonly string[]) => writeFileSync(join(directory, name), content.map((l) => `${l}\n`).join(''));
const first = (report: AuditLogReport) => report.problems[0];

beforeAll(async () => {
  pristine = tempDirectory();
  // Three open/close cycles: three segments of [header, event, event, checkpoint].
  for (let cycle = 0; cycle < 3; cycle++) await writeLog(pristine, privateKey, 2);
  expect(segmentFiles(pristine)).toHaveLength(3);
});

describe('verifyAuditLog on a tampered log', () => {
  it('accepts the pristine log', async () => {
    expect(await verifyAuditLog({ directory: pristine, publicKey })).toMatchObject({ ok: true, records: 12, events: 6, checkpoints: 3, problems: [] });
  });

  it('reports every single changed byte, at the line that holds it', async () => {
    const files = segmentFiles(pristine);
    // Exhaustive over the first two segments (the second is linked on both sides); the third is like the second.
    for (const name of files.slice(0, 2)) {
      const original = readFileSync(join(pristine, name));
      const lineOf = (offset: number) => original.subarray(0, offset).toString('latin1').split('\n').length;
      const totalLines = original.toString('latin1').split('\n').length - 1;
      const directory = copyLog();
      for (let offset = 0; offset < original.length; offset++) {
        const tampered = Buffer.from(original);
        tampered[offset] = tampered[offset]! ^ 0x01;
        writeFileSync(join(directory, name), tampered);
        const report = await verifyAuditLog({ directory, publicKey });
        const problem = first(report);
        const context = `${name} byte ${offset} (${JSON.stringify(String.fromCharCode(original[offset]!))})`;
        expect(report.ok, context).toBe(false);
        expect(problem?.file, context).toBe(name);
        // A changed newline merges two lines (reported at the first) or, as the last byte, tears the last line.
        const expectedLine = lineOf(offset);
        expect(problem?.line, context).toBe(original[offset] === 0x0a && offset === original.length - 1 ? totalLines : expectedLine);
      }
    }
  }, 120_000);

  it('reports a deleted record as deleted, at its position', async () => {
    const directory = copyLog();
    const name = segmentFiles(directory)[1]!;
    const content = lines(directory, name);
    writeLines(directory, name, [content[0]!, content[2]!, content[3]!]);
    expect(first(await verifyAuditLog({ directory, publicKey }))).toMatchObject({ file: name, line: 2, seq: 7, kind: 'deleted' });
  });

  it('reports an inserted record (a duplicate) as inserted, at its position', async () => {
    const directory = copyLog();
    const name = segmentFiles(directory)[1]!;
    const content = lines(directory, name);
    writeLines(directory, name, [content[0]!, content[1]!, content[1]!, content[2]!, content[3]!]);
    expect(first(await verifyAuditLog({ directory, publicKey }))).toMatchObject({ file: name, line: 3, seq: 6, kind: 'inserted' });
  });

  it('reports a forged record inserted with the expected seq as inserted', async () => {
    const directory = copyLog();
    const name = segmentFiles(directory)[1]!;
    const content = lines(directory, name);
    const forged = content[1]!.replace(/"key":"k\/0"/, '"key":"forged"');
    writeLines(directory, name, [content[0]!, forged, content[1]!, content[2]!, content[3]!]);
    expect(first(await verifyAuditLog({ directory, publicKey }))).toMatchObject({ file: name, line: 2, seq: 6, kind: 'inserted' });
  });

  it('reports two swapped records as reordered, at the first', async () => {
    const directory = copyLog();
    const name = segmentFiles(directory)[1]!;
    const content = lines(directory, name);
    writeLines(directory, name, [content[0]!, content[2]!, content[1]!, content[3]!]);
    const report = await verifyAuditLog({ directory, publicKey });
    expect(first(report)).toMatchObject({ file: name, line: 2, seq: 7, kind: 'reordered' });
  });

  it('reports a deleted segment file as a gap between files, at the next segment', async () => {
    const directory = copyLog();
    const [, middle, last] = segmentFiles(directory);
    rmSync(join(directory, middle!));
    expect(first(await verifyAuditLog({ directory, publicKey }))).toMatchObject({ file: last, line: 1, kind: 'gap-between-files' });
  });

  it('reports a deleted first segment as a gap', async () => {
    const directory = copyLog();
    const [firstName, second] = segmentFiles(directory);
    rmSync(join(directory, firstName!));
    expect(first(await verifyAuditLog({ directory, publicKey }))).toMatchObject({ file: second, line: 1, kind: 'gap-between-files' });
  });

  it('reports two swapped segment files as reordered, at the first', async () => {
    const directory = copyLog();
    const [, middle, last] = segmentFiles(directory);
    renameSync(join(directory, middle!), join(directory, 'tmp'));
    renameSync(join(directory, last!), join(directory, middle!));
    renameSync(join(directory, 'tmp'), join(directory, last!));
    expect(first(await verifyAuditLog({ directory, publicKey }))).toMatchObject({ file: middle, line: 1, kind: 'reordered' });
  });

  it('reports files given out of order as reordered', async () => {
    const files = segmentFiles(pristine).map((name) => join(pristine, name));
    const report = await verifyAuditLog({ files: [files[0]!, files[2]!, files[1]!], publicKey });
    expect(first(report)).toMatchObject({ line: 1, kind: 'reordered' });
  });

  it('reports records removed after the last checkpoint as unprovable, and a removed checkpoint', async () => {
    const directory = copyLog();
    const name = segmentFiles(directory)[2]!;
    writeLines(directory, name, lines(directory, name).slice(0, 3));
    const report = await verifyAuditLog({ directory, publicKey });
    expect(report.problems).toEqual([expect.objectContaining({ file: name, line: 1, seq: 9, kind: 'truncated-after-checkpoint' })]);
    expect(report.unprovable).toEqual({ fromSeq: 9, toSeq: 11, records: 3 });
    expect(report.lastCheckpoint).toMatchObject({ seq: 8 });
    expect(await verifyAuditLog({ directory, publicKey, allowUnsealedTail: true })).toMatchObject({ ok: true, unprovable: { records: 3 } });
  });

  it('reports a checkpoint whose signature fails as bad-checkpoint-signature', async () => {
    const directory = copyLog();
    const name = segmentFiles(directory)[0]!;
    const content = lines(directory, name);
    const checkpoint = JSON.parse(content[3]!) as { sig: string };
    const flipped = Buffer.from(checkpoint.sig, 'base64url');
    flipped[0] = flipped[0]! ^ 0x80;
    content[3] = content[3]!.replace(checkpoint.sig, flipped.toString('base64url'));
    writeLines(directory, name, content);
    expect(first(await verifyAuditLog({ directory, publicKey }))).toMatchObject({ file: name, line: 4, seq: 4, kind: 'bad-checkpoint-signature' });
  });

  it('rejects every checkpoint under the wrong public key', async () => {
    const report = await verifyAuditLog({ directory: pristine, publicKey: ed25519().publicKey });
    expect(report.ok).toBe(false);
    expect(report.checkpoints).toBe(0);
    expect(report.problems.filter((p) => p.kind === 'bad-checkpoint-signature').map((p) => p.seq)).toEqual([4, 8, 12]);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    expect(first(await verifyAuditLog({ directory: pristine, publicKey: p384 }))).toMatchObject({ line: 4, kind: 'bad-checkpoint-signature' });
  });

  it('reports a torn tail at every cut inside the last record, accepting the records before it', async () => {
    const name = segmentFiles(pristine)[2]!;
    const original = readFileSync(join(pristine, name));
    const lastLineStart = original.subarray(0, -1).lastIndexOf(0x0a) + 1;
    const directory = copyLog();
    for (let cut = lastLineStart + 1; cut < original.length; cut++) {
      writeFileSync(join(directory, name), original.subarray(0, cut));
      const report = await verifyAuditLog({ directory, publicKey });
      expect(report.problems.map((p) => [p.line, p.kind])).toEqual([
        [4, 'torn-tail'],
        [1, 'truncated-after-checkpoint'],
      ]);
      expect(report.records).toBe(11);
    }
  });

  it('verifies a log spread over files given one by one', async () => {
    const dir = join(tempDirectory(), 'sub');
    mkdirSync(dir);
    const files = segmentFiles(pristine).map((name) => join(pristine, name));
    expect(await verifyAuditLog({ files, publicKey })).toMatchObject({ ok: true, events: 6 });
  });
});
