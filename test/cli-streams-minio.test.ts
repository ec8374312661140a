// The `s3crypt` binary under load and interruption, against the real MinIO: a multi-GiB stream
// through stdin and stdout in bounded memory, Ctrl-C during a multipart upload, a recursive copy
// killed midway and rerun, and progress bars only on a terminal.
import { ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { CLI_BINARY, cliEnvironment, peakRss, runCli, startCli } from './harness/cli.js';
import { freshBucket, s3Client } from './harness/minio.js';
import { tempDir } from './harness/process.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

let plain: S3Client;
let bucket: string;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  const s3 = inject('s3');
  plain = s3Client(s3);
  bucket = await freshBucket(plain, 'cli-streams');
  dir = tempDir('s3crypt-cli-streams-');
  const key = join(dir, 'master.key');
  env = cliEnvironment(s3, { S3CRYPT_KEY: `file:${key}` });
  expect((await runCli(['keygen', key], { env })).code).toBe(0);
});

/** `length` pseudo-random bytes generated on the fly (never held whole), hashed as they go. */
function generated(length: number, hash: ReturnType<typeof createHash>): Readable {
  const block = randomBytes(MiB);
  let sent = 0;
  let counter = 0;
  return new Readable({
    read() {
      if (sent === length) return void this.push(null);
      const size = Math.min(MiB, length - sent);
      // Each MiB differs (a counter in its first bytes), so a repeated or dropped part shows.
      const chunk = Buffer.from(block.subarray(0, size));
      chunk.writeUInt32BE(counter++, 0);
      hash.update(chunk);
      sent += size;
      this.push(chunk);
    },
  });
}

/** Samples a child's peak RSS until it exits. */
function watchRss(pid: number): () => number {
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, peakRss(pid) ?? 0);
  }, 100);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

describe('a stream of several GiB through stdin and stdout', () => {
  // The bound: Node and the SDK (~100 MiB) plus the parts in flight (4 × 16 MiB plaintext, their
  // ciphertext, and lib-storage's buffers), far below the 2 GiB that passes through.
  const RSS_BOUND = 512 * MiB;

  it('put - then get - with peak RSS under a fixed bound, bytes identical', async () => {
    const length = 2 * GiB + 12_345;
    const sent = createHash('sha256');
    const put = startCli(['put', '-', `s3://${bucket}/big.bin`], { env, stdin: generated(length, sent) });
    const putPeak = watchRss(put.child.pid!);
    const putResult = await put.done;
    expect(putResult.code, putResult.stderr).toBe(0);
    const putRss = putPeak();

    // stdout is consumed as it arrives (hashed, not kept).
    const child = spawn(process.execPath, [CLI_BINARY, 'get', `s3://${bucket}/big.bin`, '-'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const getPeak = watchRss(child.pid!);
    const received = createHash('sha256');
    let bytes = 0;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      received.update(chunk);
      bytes += chunk.length;
    }
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const getRss = getPeak();
    expect(code, stderr).toBe(0);
    expect(bytes).toBe(length);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
    console.info(`2 GiB through the CLI: peak RSS put ${Math.round(putRss / MiB)} MiB, get ${Math.round(getRss / MiB)} MiB`);
    expect(putRss).toBeGreaterThan(0);
    expect(putRss).toBeLessThan(RSS_BOUND);
    expect(getRss).toBeGreaterThan(0);
    expect(getRss).toBeLessThan(RSS_BOUND);
  }, 600_000);
});

describe('interruption', () => {
  it('Ctrl-C during a multipart upload from stdin aborts it: exit 130, no upload left, no object', async () => {
    // An endless stdin: only the interrupt can end this upload.
    let parts = 0;
    const endless = new Readable({
      read() {
        parts++;
        this.push(randomBytes(MiB));
      },
    });
    const run = startCli(['put', '-', `s3://${bucket}/interrupted.bin`, '--part-size', '5'], { env, stdin: endless });
    // Wait until the multipart upload exists in the store, then interrupt.
    for (let i = 0; i < 600; i++) {
      const uploads = await plain.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      if ((uploads.Uploads ?? []).length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(parts).toBeGreaterThan(5);
    run.child.kill('SIGINT');
    const result = await run.done;
    endless.destroy();
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toMatch(/interrupted/);
    const uploads = await plain.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(uploads.Uploads ?? []).toEqual([]);
    const listed = await plain.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'interrupted' }));
    expect(listed.KeyCount ?? 0).toBe(0);
  }, 120_000);

  it('a recursive copy killed midway and rerun: every file there once, identical, nothing partial', async () => {
    const source = tempDir('s3crypt-cli-kill-src-');
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 40; i++) {
      const name = `part-${String(i).padStart(3, '0')}.bin`;
      const bytes = randomBytes(256 * 1024 + i);
      files.set(name, bytes);
      writeFileSync(join(source, name), bytes);
    }
    const prefix = `killed-${Date.now()}/`;
    const first = startCli(['cp', source, `s3://${bucket}/${prefix}`, '--recursive', '--concurrency', '2'], { env });
    // Kill it hard once some, but not all, objects are in.
    for (let i = 0; i < 600; i++) {
      const listed = await plain.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      if ((listed.KeyCount ?? 0) >= 5) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    first.child.kill('SIGKILL');
    await first.done;
    const partial = await plain.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    expect(partial.KeyCount ?? 0).toBeLessThan(files.size);

    const rerun = await runCli(['cp', source, `s3://${bucket}/${prefix}`, '--recursive', '--json'], { env });
    expect(rerun.code, rerun.stderr).toBe(0);
    const summary = JSON.parse(rerun.stdout.toString()) as { copied: number; skipped: number; failed: number };
    expect(summary.failed).toBe(0);
    expect(summary.skipped).toBeGreaterThanOrEqual(partial.KeyCount ?? 0);
    expect(summary.copied + summary.skipped).toBe(files.size);

    const listed = await plain.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    expect(listed.Contents?.map((entry) => entry.Key).sort()).toEqual([...files.keys()].map((name) => prefix + name).sort());
    const back = tempDir('s3crypt-cli-kill-back-');
    expect((await runCli(['cp', `s3://${bucket}/${prefix}`, back, '--recursive'], { env })).code).toBe(0);
    expect(readdirSync(back).sort()).toEqual([...files.keys()].sort());
    for (const [name, bytes] of files) expect(readFileSync(join(back, name)).equals(bytes), name).toBe(true);
  }, 300_000);
});

describe('progress output', () => {
  const file = () => {
    const path = join(dir, 'progress.bin');
    writeFileSync(path, randomBytes(24 * MiB));
    return path;
  };

  it('is drawn on a terminal (a pseudo-terminal) and absent on a pipe', async () => {
    const path = file();
    const onPipe = await runCli(['put', path, `s3://${bucket}/progress-pipe.bin`], { env });
    expect(onPipe.code).toBe(0);
    expect(onPipe.stderr).toBe('');

    // Python's pty module gives the CLI a real terminal on stdin, stdout and stderr.
    const script = [
      'import os, pty, sys',
      'out = bytearray()',
      'def read(fd):',
      '    data = os.read(fd, 65536)',
      '    out.extend(data)',
      '    return data',
      'status = pty.spawn(sys.argv[1:], read)',
      'sys.stdout.buffer.write(bytes(out))',
      'sys.exit(os.waitstatus_to_exitcode(status))',
    ].join('\n');
    const folder = join(dir, 'pty');
    mkdirSync(folder, { recursive: true });
    const onTerminal = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      // The file by a short relative name: the pty is 80 columns wide and a line is cut there, and an
      // upload quicker than one frame (200 ms) draws only its first and its last line, so the last
      // must fit: "progress.bin [####…] 100% …", not a long temporary path and the bar alone.
      const child = spawn('python3', ['-c', script, process.execPath, CLI_BINARY, 'put', basename(path), `s3://${bucket}/progress-tty.bin`, '--part-size', '5'], {
        cwd: dirname(path),
        env: { ...env, COLUMNS: '120', TERM: 'xterm' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
    });
    expect(onTerminal.code, onTerminal.output).toBe(0);
    expect(onTerminal.output).toMatch(/\[#+-*\] \d+% /);
    expect(onTerminal.output).toMatch(/24\.0 MiB/);
    expect(onTerminal.output).toMatch(/\/s/);
  }, 120_000);
});
