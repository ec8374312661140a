// Crash safety: a child process writing the log is killed with SIGKILL mid-write. Every event whose
// write had resolved is in the log, the verifier accepts everything up to the last complete record
// (reporting the torn tail), and reopening continues the chain. A SIGKILL tears a record only if it
// lands inside the write(2) of a commit (Linux stops a buffered write at a page boundary for a fatal
// signal), which is rare; when the kill did not tear one, the test cuts the last record where such a
// kill would have (a prefix of the last write), so the torn-tail path is exercised every time.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TamperEvidentLog, verifyAuditLog } from '@s3crypt/audit';
import { ed25519, event, segmentFiles, tempDirectory } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));

/** Runs the writer until it has acknowledged `acks` events plus a random delay, then SIGKILLs it. */
async function killWriterMidWrite(directory: string, keyPem: string, acks: number): Promise<Set<string>> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, directory, Buffer.from(keyPem).toString('base64')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked = new Set<string>();
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`writer exited early (${code})`))));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const complete = buffered.split('\n');
      buffered = complete.pop()!;
      for (const id of complete) acked.add(id);
      if (acked.size >= acks && !child.killed) setTimeout(() => child.kill('SIGKILL'), Math.random() * 60);
    });
  });
  return acked;
}

const loggedIds = (directory: string) =>
  new Set(
    segmentFiles(directory).flatMap((name) =>
      readFileSync(join(directory, name), 'utf8')
        .split('\n')
        .flatMap((line) => /"requestId":"([^"]+)"/.exec(line)?.[1] ?? []),
    ),
  );

describe('crash safety', () => {
  it('a SIGKILLed writer leaves a log accepted up to its last complete record, and reopening continues the chain', async () => {
    const { privateKey, publicKey } = ed25519();
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    for (let attempt = 0; attempt < 3; attempt++) {
      const directory = tempDirectory();
      const acked = await killWriterMidWrite(directory, keyPem, 32 + attempt * 8);
      const logged = loggedIds(directory);
      for (const id of acked) expect(logged.has(id), `acknowledged event ${id} is in the log`).toBe(true);
      const last = join(directory, segmentFiles(directory).at(-1)!);
      const bytes = readFileSync(last);
      const cut = bytes.at(-1) === 0x0a;
      if (cut) {
        const lastLineStart = bytes.subarray(0, -1).lastIndexOf(0x0a) + 1;
        writeFileSync(last, bytes.subarray(0, lastLineStart + Math.floor((bytes.length - lastLineStart) / 2)));
      }

      const crashed = await verifyAuditLog({ directory, publicKey });
      const kinds = crashed.problems.map((problem) => problem.kind);
      expect(kinds.every((kind) => kind === 'torn-tail' || kind === 'truncated-after-checkpoint'), JSON.stringify(crashed.problems)).toBe(true);
      expect(crashed.events).toBeGreaterThanOrEqual(acked.size - (cut ? 1 : 0));
      expect(kinds).toContain('torn-tail');

      const log = await TamperEvidentLog.open({ directory, signingKey: privateKey });
      await log.write(event(1));
      await log.close();
      const reopened = await verifyAuditLog({ directory, publicKey });
      expect(reopened.problems).toEqual([]);
      expect(reopened.events).toBe(crashed.events + 1);
      expect(reopened.recoveredTornTails).toHaveLength(1);
    }
  }, 120_000);

  it('a torn tail is acknowledged by the next segment: changing its bytes afterwards is reported', async () => {
    const { privateKey, publicKey } = ed25519();
    const directory = tempDirectory();
    const log = await TamperEvidentLog.open({ directory, signingKey: privateKey });
    await log.write(event(1));
    await log.close();
    const [name] = segmentFiles(directory);
    const { appendFileSync } = await import('node:fs');
    appendFileSync(join(directory, name!), '{"event":{"half');
    const reopened = await TamperEvidentLog.open({ directory, signingKey: privateKey });
    await reopened.close();
    expect(await verifyAuditLog({ directory, publicKey })).toMatchObject({ ok: true, recoveredTornTails: [{ file: name, line: 4, bytes: 15 }] });
    const file = join(directory, name!);
    writeFileSync(file, readFileSync(file, 'utf8').replace('half', 'hålf'));
    expect((await verifyAuditLog({ directory, publicKey })).problems[0]).toMatchObject({ file: name, line: 4, kind: 'torn-tail' });
  });
});
