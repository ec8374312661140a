// npm run bench:cli (part of npm run bench): the s3crypt binary streaming 256 MiB and 10 GiB through
// stdin (`put -`) and stdout (`get … -`) against MinIO, with its peak RSS sampled from /proc: memory
// must stay within the same budget whatever the size. Not a test; results go in docs/PERFORMANCE.md.
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { endpointFromEnv, s3Client, startMinio } from '../test/harness/minio.js';
import { generated } from './data.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const BINARY = fileURLToPath(new URL('../packages/cli/bin/s3crypt.js', import.meta.url));

function vmHwm(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Runs the CLI, feeding `input` bytes (generated) or draining its stdout; resolves [ms, peak RSS]. */
async function runCli(args: string[], env: NodeJS.ProcessEnv, input?: number): Promise<[number, number]> {
  const start = performance.now();
  const child = spawn(process.execPath, [BINARY, ...args], { env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'inherit'] });
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, vmHwm(child.pid!))), 100);
  const drained = (async () => {
    for await (const _chunk of child.stdout!) void _chunk;
  })();
  if (input !== undefined) {
    for (const chunk of generated(input)) if (!child.stdin!.write(chunk)) await new Promise((resolve) => child.stdin!.once('drain', resolve));
    child.stdin!.end();
  }
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  await drained;
  clearInterval(timer);
  if (code !== 0) throw new Error(`s3crypt ${args[0]} exited ${code}`);
  return [performance.now() - start, peak];
}

const existing = endpointFromEnv();
const minio = existing ? undefined : await startMinio();
const endpoint = existing ?? minio!.endpoint;
const work = mkdtempSync(join(tmpdir(), 's3crypt-bench-cli-'));
const rows: string[] = [];
try {
  const bucket = `bench-cli-${Date.now()}`;
  await s3Client(endpoint).send(new CreateBucketCommand({ Bucket: bucket }));
  const env = {
    PATH: process.env.PATH,
    AWS_ACCESS_KEY_ID: endpoint.accessKeyId,
    AWS_SECRET_ACCESS_KEY: endpoint.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_S3: endpoint.endpoint,
    S3CRYPT_KEY: `file:${join(work, 'bench.key')}`,
  };
  await runCli(['keygen', join(work, 'bench.key'), '--quiet'], env);
  const sizes = (process.env.S3CRYPT_BENCH_CLI_SIZES ?? `${256 * MiB},${10 * GiB}`).split(',').map(Number);
  for (const size of sizes) {
    const target = `s3://${bucket}/stream-${size}`;
    const [putMs, putRss] = await runCli(['put', '-', target], env, size);
    const [getMs, getRss] = await runCli(['get', target, '-'], env);
    const rate = (ms: number) => `${(size / MiB / (ms / 1000)).toFixed(0)} MiB/s`;
    rows.push(`| ${size >= GiB ? `${size / GiB} GiB` : `${size / MiB} MiB`} | ${rate(putMs)} | ${(putRss / MiB).toFixed(0)} MiB | ${rate(getMs)} | ${(getRss / MiB).toFixed(0)} MiB |`);
  }
} finally {
  await minio?.server.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(`\ns3crypt CLI, stdin → put - / get - → stdout (node ${process.version}; 16 MiB parts × 4)\n`);
console.log('| stream | put | put peak RSS | get | get peak RSS |\n|---|---|---|---|---|');
for (const row of rows) console.log(row);
