import { constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLogError, TamperEvidentLog, verifyAuditLog } from '@s3crypt/audit';
import { openFlagsOf } from '../../../test/harness/open-flags.js';
import { ed25519, event, segmentFiles, tempDirectory, writeLog } from './helpers.js';

const records = (directory: string) =>
  segmentFiles(directory).flatMap((name) =>
    readFileSync(join(directory, name), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { seq: number; event?: { key: string }; checkpoint?: object; segment?: object }),
  );

describe('TamperEvidentLog', () => {
  it('writes a chain that verifies, ending with a signed checkpoint on close', async () => {
    const directory = tempDirectory();
    const { privateKey, publicKey } = ed25519();
    await writeLog(directory, privateKey, 5);
    const all = records(directory);
    expect(all.map((record) => record.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(all[0]!.segment).toBeDefined();
    expect(all.at(-1)!.checkpoint).toBeDefined();
    const report = await verifyAuditLog({ directory, publicKey });
    expect(report).toMatchObject({ ok: true, records: 7, events: 5, checkpoints: 1, lastCheckpoint: { seq: 7, records: 6 }, problems: [] });
  });

  // Durability cannot be observed from a test; the segment descriptor's open flags can.
  it.runIf(process.platform === 'linux')('writes segments through an O_DSYNC descriptor, so a record is durable when its write resolves', async () => {
    const directory = tempDirectory();
    const log = await TamperEvidentLog.open({ directory, signingKey: ed25519().privateKey });
    await log.write(event(1));
    const flags = openFlagsOf(join(directory, segmentFiles(directory)[0]!));
    expect(flags & constants.O_DSYNC).toBe(constants.O_DSYNC);
    expect(flags & constants.O_APPEND).toBe(constants.O_APPEND);
    await log.close();
  });

  it('1000 parallel writes produce one well-formed chain, every event exactly once', async () => {
    const directory = tempDirectory();
    const { privateKey, publicKey } = ed25519();
    const log = await TamperEvidentLog.open({ directory, signingKey: privateKey, checkpointEveryRecords: 100 });
    await Promise.all(Array.from({ length: 1000 }, (_, n) => log.write(event(n))));
    await log.close();
    const keys = records(directory).flatMap((record) => (record.event ? [record.event.key] : []));
    expect(new Set(keys).size).toBe(1000);
    const report = await verifyAuditLog({ directory, publicKey });
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ ok: true, events: 1000 });
    expect(report.checkpoints).toBeGreaterThanOrEqual(10);
  });

  it('continues the chain after close and reopen, in a new segment that names the previous one', async () => {
    const directory = tempDirectory();
    const { privateKey, publicKey } = ed25519();
    await writeLog(directory, privateKey, 3);
    await writeLog(directory, privateKey, 2);
    const files = segmentFiles(directory);
    expect(files).toHaveLength(2);
    const header = JSON.parse(readFileSync(join(directory, files[1]!), 'utf8').split('\n')[0]!) as { seq: number; segment: { previous: string } };
    expect(header).toMatchObject({ seq: 6, segment: { previous: files[0] } });
    expect(await verifyAuditLog({ directory, publicKey })).toMatchObject({ ok: true, events: 5, checkpoints: 2 });
  });

  it('rotates by size into several segments, each sealed by a checkpoint, the chain continuing across them', async () => {
    const directory = tempDirectory();
    const { privateKey, publicKey } = ed25519();
    await writeLog(directory, privateKey, 40, { maxSegmentBytes: 2000 });
    expect(segmentFiles(directory).length).toBeGreaterThan(3);
    for (const name of segmentFiles(directory)) {
      const lines = readFileSync(join(directory, name), 'utf8').trimEnd().split('\n');
      expect(JSON.parse(lines.at(-1)!)).toHaveProperty('checkpoint');
    }
    expect(await verifyAuditLog({ directory, publicKey })).toMatchObject({ ok: true, events: 40, problems: [] });
  });

  it('signs a checkpoint every checkpointIntervalMs while records arrive', async () => {
    const directory = tempDirectory();
    const { privateKey, publicKey } = ed25519();
    const log = await TamperEvidentLog.open({ directory, signingKey: privateKey, checkpointIntervalMs: 50 });
    await log.write(event(1));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await verifyAuditLog({ directory, publicKey })).toMatchObject({ ok: true, checkpoints: 1, lastCheckpoint: { seq: 3 } });
    await log.close();
  });

  it('ECDSA P-384 checkpoint keys work too', async () => {
    const directory = tempDirectory();
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    await writeLog(directory, privateKey, 3);
    expect(await verifyAuditLog({ directory, publicKey })).toMatchObject({ ok: true, checkpoints: 1 });
  });

  it('rejects writes after close, and non-JSON events, with typed errors', async () => {
    const directory = tempDirectory();
    const log = await TamperEvidentLog.open({ directory, signingKey: ed25519().privateKey });
    await expect(log.write({ ...event(1), formatVersion: Number.NaN })).rejects.toBeInstanceOf(TypeError);
    await log.close();
    await expect(log.write(event(2))).rejects.toMatchObject({ code: 'ERR_AUDIT_LOG_CLOSED' });
    await expect(log.write(event(2))).rejects.toBeInstanceOf(AuditLogError);
  });

  it('refuses to continue a chain whose newest records (back to the last checkpoint) are malformed', async () => {
    const directory = tempDirectory();
    const { privateKey } = ed25519();
    await writeLog(directory, privateKey, 2);
    const file = join(directory, segmentFiles(directory)[0]!);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/"v":1}\n$/, '"v":1 }\n'));
    await expect(TamperEvidentLog.open({ directory, signingKey: privateKey })).rejects.toMatchObject({ code: 'ERR_AUDIT_LOG_CORRUPT' });
  });
});
