// A real MinIO behind an emulated WAN link, all on this machine, for benchmarks where the network's
// latency is the point (a parallel download against a store whose single stream is latency-bound).
// Not a test: nothing here asserts speed. `npm run bench:netem-selftest` shows what the link does.
//
// The shape: MinIO runs in its own network namespace (`s3c-<pid>-<hex>`), reached from the host over
// a point-to-point link on a private /30 (10.233.x.y, x and y random so parallel runs do not clash).
// Every packet crossing the link is held for `delayMs` in each direction, so RTT = 2 × delayMs.
// TCP runs end to end (host client ↔ MinIO), so slow start, the congestion window and the socket
// buffers behave as they would over a WAN link with that RTT.
//
// Two ways to build the link, the same to the caller (`link` in the result says which was used):
// - `netem`: a veth pair, one end moved into the namespace, and on BOTH ends
//   `tc qdisc add dev <veth> root netem limit <limit> delay <d>ms [<jitter>ms] [rate <r>mbit]`.
//   Delay on both ends because a qdisc only shapes what leaves its device: one end delays requests
//   and ACKs, the other delays responses. `limit` is netem's queue in packets, and a delaying qdisc
//   holds every in-flight packet: its default of 1000 is ~1.4 MiB, far below the bandwidth-delay
//   product of a fast link at 20–50 ms RTT, so the default would tail-drop and TCP would collapse
//   into loss recovery — not what a WAN link does. 100,000 packets (~145 MiB) never binds; losses,
//   if any, then come from the rate, as on a real bottleneck.
// - `delay-line` (fallback, used when the kernel has no sch_netem, as on this VM's kernel, built
//   without CONFIG_NET_SCH_NETEM): bench/delay-line.c, compiled once with gcc into the server
//   cache, opens a TUN device on each side and forwards every packet after the delay, with the same
//   `limit` and `rate` semantics. It passes TSO super-packets through as they are (IFF_VNET_HDR),
//   which keeps it near loopback speed at delay 0 (≈ 1 GB/s measured here).
// `rateMbit` (optional) serialises packets at that rate, like a bottleneck link; without it the link
// is as fast as the machine and only the delay and TCP limit a stream. `jitterMs` spreads the delay
// uniformly by ± jitter (the delay line never reorders packets; netem may, see tc-netem(8)).
//
// TCP settings inside the namespace are the host's (Linux copies tcp_rmem/tcp_wmem and the
// congestion control into a new namespace); we keep them on purpose. The one that matters is the
// sender's tcp_wmem maximum (4 MiB here): MinIO cannot have more unacknowledged bytes in flight than
// its send buffer holds, so one download stream tops out near sndbuf / RTT (≈ 100–150 MiB/s at
// 20 ms, falling as the RTT grows) however fast the link — the realistic condition under which
// parallel ranged GETs pay off. `describe` lists the values in force.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MINIO_BINARY, minioEndpoint, minioServerArgs, minioServerEnvironment, type S3Endpoint } from '../test/harness/minio.js';
import { answers, startServer, type RunningServer } from '../test/harness/process.js';
import { cachedBinary } from './cached-binary.js';

export interface NetemOptions {
  /** One-way delay in each direction; the RTT is twice this. */
  readonly delayMs: number;
  /** Link rate (serialisation) in Mbit/s; unlimited when absent. */
  readonly rateMbit?: number;
  /** Uniform spread of the delay, ± this many ms. */
  readonly jitterMs?: number;
  /** Packets held per direction before tail drop (netem's `limit`); 100,000 by default. */
  readonly limit?: number;
  /** `auto` (default) uses kernel netem when it exists, else the userspace delay line. */
  readonly link?: 'auto' | 'netem' | 'delay-line';
}

export interface NetemMinio {
  readonly endpoint: S3Endpoint;
  /** One line: where MinIO is, the link's delay/rate, how it is built, and the TCP limits in force. */
  readonly describe: string;
  readonly link: 'netem' | 'delay-line';
  readonly namespace: string;
  /** The link's device on the host side (gone after stop). */
  readonly hostInterface: string;
  /** Kills MinIO, removes its data, the link and the namespace. Safe to call twice. */
  stop(): Promise<void>;
}

/** Every namespace this module creates starts with this; see {@link cleanupStaleNetns}. */
export const NAMESPACE_PREFIX = 's3c-';
const NAMESPACE_PATTERN = /^s3c-(\d+)-([0-9a-f]{6})$/;
const DATA_DIR_PATTERN = /^s3crypt-netem-(\d+)-/;
const MINIO_PORT = 9000;
const DEFAULT_LIMIT = 100_000;
const IP = existsSync('/usr/sbin/ip') ? '/usr/sbin/ip' : 'ip';
const TC = existsSync('/usr/sbin/tc') ? '/usr/sbin/tc' : 'tc';

const run = (command: string, args: readonly string[]): string =>
  execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const attempt = (command: string, args: readonly string[]): void => {
  try {
    run(command, args);
  } catch {
    // Teardown of something that may not exist (partial setup, or already gone).
  }
};

/** What one link owns, torn down in reverse: MinIO, the namespace's processes, the delay line, the namespace. */
interface Resources {
  namespace?: string;
  hostInterface?: string;
  delayLine?: ChildProcess;
  minio?: RunningServer;
  dataDir?: string;
}

const live = new Set<Resources>();
let exitHooked = false;

/** Synchronous, for process exit and signals: SIGKILL everything, then remove the namespace. */
function teardownSync(resources: Resources): void {
  if (resources.minio?.process.pid) killQuietly(resources.minio.process.pid, 'SIGKILL');
  if (resources.namespace) killNamespacePids(resources.namespace);
  if (resources.delayLine?.pid) killQuietly(resources.delayLine.pid, 'SIGKILL');
  if (resources.namespace) attempt(IP, ['netns', 'delete', resources.namespace]);
  if (resources.hostInterface) attempt(IP, ['link', 'delete', resources.hostInterface]);
  if (resources.dataDir) rmSync(resources.dataDir, { recursive: true, force: true });
  live.delete(resources);
}

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const resources of [...live]) teardownSync(resources);
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const resources of [...live]) teardownSync(resources);
      process.kill(process.pid, signal); // the default action, now that the handler is gone
    });
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function killNamespacePids(namespace: string): void {
  let pids: string;
  try {
    pids = run(IP, ['netns', 'pids', namespace]);
  } catch {
    return;
  }
  for (const pid of pids.split(/\s+/).filter(Boolean)) killQuietly(Number(pid), 'SIGKILL');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what runs that died without stopping left behind: `s3c-<pid>-…` namespaces (and any
 * process still inside) and `s3crypt-netem-<pid>-…` data folders whose pid is no longer alive.
 * Called by {@link startNetemMinio}; returns the namespaces removed.
 *
 * @example
 * ```ts
 * const removed = cleanupStaleNetns();
 * if (removed.length) console.log(`removed ${removed.join(', ')}`);
 * ```
 */
export function cleanupStaleNetns(): string[] {
  const removed: string[] = [];
  let namespaces: string[] = [];
  try {
    namespaces = run(IP, ['netns', 'list']).split('\n').map((line) => line.split(' ')[0] ?? '');
  } catch {
    // No `ip netns` at all: nothing of ours can exist.
  }
  for (const namespace of namespaces) {
    const match = NAMESPACE_PATTERN.exec(namespace);
    if (!match || alive(Number(match[1]))) continue;
    killNamespacePids(namespace);
    attempt(IP, ['netns', 'delete', namespace]);
    attempt(IP, ['link', 'delete', `s3c${match[2]}h`]);
    removed.push(namespace);
  }
  for (const entry of readdirSync(tmpdir())) {
    const match = DATA_DIR_PATTERN.exec(entry);
    if (match && !alive(Number(match[1]))) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
  return removed;
}

/** A /30 in 10.233.0.0/16 that no interface here already uses: [host address, namespace address]. */
function freeSubnet(): [string, string] {
  const inUse = run(IP, ['-4', '-o', 'addr', 'show']);
  for (let i = 0; i < 50; i++) {
    const x = randomInt(256);
    const y = randomInt(64) * 4;
    const taken = [0, 1, 2, 3].some((d) => inUse.includes(` 10.233.${x}.${y + d}/`));
    if (!taken) return [`10.233.${x}.${y + 1}`, `10.233.${x}.${y + 2}`];
  }
  throw new Error('bench/netem: no free /30 in 10.233.0.0/16');
}

let netemMissing = false;
class NetemUnavailable extends Error {}

/** veth pair + netem on both ends. Throws NetemUnavailable if the kernel lacks sch_netem. */
function buildVethNetem(resources: Resources, nsIf: string, options: Required<Omit<NetemOptions, 'link'>>): void {
  const { namespace, hostInterface } = resources as Required<Pick<Resources, 'namespace' | 'hostInterface'>>;
  run(IP, ['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', nsIf]);
  run(IP, ['link', 'set', nsIf, 'netns', namespace]);
  const netem = ['root', 'netem', 'limit', String(options.limit), 'delay', `${options.delayMs}ms`];
  if (options.jitterMs > 0) netem.push(`${options.jitterMs}ms`);
  if (options.rateMbit > 0) netem.push('rate', `${options.rateMbit}mbit`);
  try {
    run(TC, ['qdisc', 'add', 'dev', hostInterface, ...netem]);
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '');
    if (/unknown/i.test(stderr)) {
      attempt(IP, ['link', 'delete', hostInterface]); // takes its peer with it
      netemMissing = true;
      throw new NetemUnavailable(`netem unavailable: ${stderr.trim()}`, { cause: error });
    }
    throw error;
  }
  run(TC, ['-n', namespace, 'qdisc', 'add', 'dev', nsIf, ...netem]);
}

/** The delay line binary, built from bench/delay-line.c on first use (named by the source's hash). */
function delayLineBinary(): string {
  const source = fileURLToPath(new URL('./delay-line.c', import.meta.url));
  return cachedBinary(source, 's3crypt-delay-line', (output) => run('gcc', ['-O2', '-Wall', '-o', output, source]), 'bench/netem: the kernel has no sch_netem, and building bench/delay-line.c with gcc failed');
}

async function startDelayLine(resources: Resources, nsIf: string, options: Required<Omit<NetemOptions, 'link'>>): Promise<void> {
  const { namespace, hostInterface } = resources as Required<Pick<Resources, 'namespace' | 'hostInterface'>>;
  const args = [
    hostInterface,
    `/run/netns/${namespace}`,
    nsIf,
    String(Math.round(options.delayMs * 1000)),
    String(Math.round(options.jitterMs * 1000)),
    String(Math.round(options.rateMbit * 1_000_000)),
    String(options.limit),
  ];
  const child = spawn(delayLineBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  resources.delayLine = child;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bench/netem: delay line not ready in 10 s\n${stderr}`)), 10_000);
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`bench/netem: delay line ${why}\n${stderr}`));
    };
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code, signal) => fail(`exited (${signal ?? code})`));
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve();
      }
    });
  });
  // Room for a burst on the host-side TUN queue; the default 500 drops under parallel streams.
  run(IP, ['link', 'set', hostInterface, 'txqueuelen', '5000']);
  run(IP, ['-n', namespace, 'link', 'set', nsIf, 'txqueuelen', '5000']);
}

function tcpSettings(namespace: string): string {
  const read = (name: string) => run(IP, ['netns', 'exec', namespace, 'cat', `/proc/sys/net/${name}`]).trim().split(/\s+/);
  const mib = (bytes: string | undefined) => `${(Number(bytes) / 2 ** 20).toFixed(bytes && Number(bytes) < 2 ** 20 ? 2 : 0)} MiB`;
  try {
    const wmem = read('ipv4/tcp_wmem');
    const rmem = read('ipv4/tcp_rmem');
    const cc = read('ipv4/tcp_congestion_control')[0];
    return `tcp_wmem max ${mib(wmem[2])}, tcp_rmem max ${mib(rmem[2])}, ${cc}`;
  } catch {
    return 'TCP settings unreadable';
  }
}

/**
 * Starts the pinned MinIO in a fresh network namespace behind an emulated link with `delayMs` of
 * one-way delay each way (RTT = 2 × delayMs), optionally rate-limited and jittered. Needs root and
 * iproute2. Everything it creates is removed by `stop()`, and on process exit or SIGINT/SIGTERM.
 *
 * @example
 * ```ts
 * const far = await startNetemMinio({ delayMs: 10 });
 * try {
 *   console.log(far.describe);
 *   const client = s3Client(far.endpoint);
 *   // … time a download …
 * } finally {
 *   await far.stop();
 * }
 * ```
 */
export async function startNetemMinio(options: NetemOptions): Promise<NetemMinio> {
  if (!(options.delayMs >= 0)) throw new TypeError('delayMs must be a number ≥ 0');
  if (!existsSync(MINIO_BINARY)) throw new Error(`MinIO not found at ${MINIO_BINARY}: run scripts/install-servers.sh minio`);
  const settings = {
    delayMs: options.delayMs,
    rateMbit: options.rateMbit ?? 0,
    jitterMs: options.jitterMs ?? 0,
    limit: options.limit ?? DEFAULT_LIMIT,
  };
  cleanupStaleNetns();
  hookExit();
  const tag = randomBytes(3).toString('hex');
  const resources: Resources = {};
  live.add(resources);
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= teardown(resources));
  try {
    resources.namespace = `${NAMESPACE_PREFIX}${process.pid}-${tag}`;
    resources.hostInterface = `s3c${tag}h`; // ≤ 15 characters, the kernel's limit
    const nsIf = `s3c${tag}n`;
    const { namespace, hostInterface } = resources as Required<Pick<Resources, 'namespace' | 'hostInterface'>>;
    run(IP, ['netns', 'add', namespace]);
    let link: NetemMinio['link'];
    const wanted = options.link ?? 'auto';
    if (wanted === 'netem' || (wanted === 'auto' && !netemMissing)) {
      try {
        buildVethNetem(resources, nsIf, settings);
        link = 'netem';
      } catch (error) {
        if (wanted === 'netem' || !(error instanceof NetemUnavailable)) throw error;
        await startDelayLine(resources, nsIf, settings);
        link = 'delay-line';
      }
    } else {
      await startDelayLine(resources, nsIf, settings);
      link = 'delay-line';
    }
    const [hostAddress, nsAddress] = freeSubnet();
    run(IP, ['addr', 'add', `${hostAddress}/30`, 'dev', hostInterface]);
    run(IP, ['link', 'set', hostInterface, 'up']);
    run(IP, ['-n', namespace, 'addr', 'add', `${nsAddress}/30`, 'dev', nsIf]);
    run(IP, ['-n', namespace, 'link', 'set', nsIf, 'up']);
    run(IP, ['-n', namespace, 'link', 'set', 'lo', 'up']);

    resources.dataDir = mkdtempSync(join(tmpdir(), `s3crypt-netem-${process.pid}-`));
    const endpoint = minioEndpoint(`${nsAddress}:${MINIO_PORT}`);
    resources.minio = await startServer({
      command: IP,
      // `ip netns exec` execs MinIO in place, so the child's pid is MinIO's.
      args: ['netns', 'exec', namespace, MINIO_BINARY, ...minioServerArgs(`${nsAddress}:${MINIO_PORT}`, `${nsAddress}:${MINIO_PORT + 1}`, resources.dataDir)],
      env: minioServerEnvironment(endpoint),
      // From the host, through the link: proves the whole path works before anyone measures it.
      ready: () => answers(`${endpoint.endpoint}/minio/health/live`),
    });
    const rtt = 2 * settings.delayMs;
    const shape = [
      `delay ${settings.delayMs} ms each way (RTT ${rtt} ms)`,
      settings.jitterMs ? `jitter ±${settings.jitterMs} ms` : undefined,
      settings.rateMbit ? `rate ${settings.rateMbit} Mbit/s` : 'rate unlimited',
      `limit ${settings.limit} packets`,
    ].filter(Boolean);
    const how = link === 'netem' ? 'veth + tc netem on both ends' : 'TUN delay line (kernel has no sch_netem)';
    const describe = `MinIO at ${endpoint.endpoint} in netns ${namespace}: ${shape.join(', ')}; ${how}; ${tcpSettings(namespace)}`;
    return { endpoint, describe, link, namespace, hostInterface, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function teardown(resources: Resources): Promise<void> {
  try {
    await resources.minio?.stop(); // SIGTERM, SIGKILL after 5 s
  } finally {
    const line = resources.delayLine;
    if (line && line.exitCode === null && line.signalCode === null) {
      const gone = new Promise((resolve) => line.once('exit', resolve));
      line.kill('SIGTERM');
      await gone;
    }
    teardownSync(resources);
  }
}

// ---- npm run bench:netem-selftest -----------------------------------------------------------

async function selftest(delays: number[]): Promise<void> {
  const { CreateBucketCommand, GetObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
  const { s3Client, startMinio } = await import('../test/harness/minio.js');
  const MiB = 2 ** 20;
  const big = randomBytes(64 * MiB);

  async function measure(endpoint: S3Endpoint) {
    const client = s3Client(endpoint);
    try {
      const bucket = 'netem-selftest';
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'small', Body: randomBytes(1024) }));
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'big', Body: big }));
      const get = async (key: string, range?: string) => {
        const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
        let bytes = 0;
        for await (const chunk of response.Body as AsyncIterable<Uint8Array>) bytes += chunk.length;
        return bytes;
      };
      const timed = async (fn: () => Promise<unknown>) => {
        const start = performance.now();
        await fn();
        return performance.now() - start;
      };
      await get('small'); // warm: the connection is open, as in a real client's steady state
      const small: number[] = [];
      for (let i = 0; i < 7; i++) small.push(await timed(() => get('small')));
      small.sort((a, b) => a - b);
      const single = await timed(() => get('big'));
      const parts = 8;
      // Open the connections first, so the figure is transfer, not eight TCP handshakes.
      await Promise.all(Array.from({ length: parts }, () => get('small')));
      const parallel = await timed(() =>
        Promise.all(Array.from({ length: parts }, (_, i) => get('big', `bytes=${(i * big.length) / parts}-${((i + 1) * big.length) / parts - 1}`))),
      );
      const rate = (ms: number) => `${(big.length / MiB / (ms / 1000)).toFixed(0)} MiB/s`;
      return [`${small[0]!.toFixed(1)} / ${small[3]!.toFixed(1)} ms`, rate(single), rate(parallel)];
    } finally {
      client.destroy();
    }
  }

  const rows: string[][] = [];
  const local = await startMinio();
  try {
    rows.push(['127.0.0.1 (no link)', ...(await measure(local.endpoint))]);
  } finally {
    await local.server.stop();
  }
  const problems: string[] = [];
  for (const delayMs of delays) {
    const far = await startNetemMinio({ delayMs });
    try {
      console.log(far.describe);
      rows.push([`delay ${delayMs} ms (RTT ${2 * delayMs} ms, ${far.link})`, ...(await measure(far.endpoint))]);
    } finally {
      await far.stop();
    }
    problems.push(...leftovers(far));
  }
  const header = ['link', 'GET 1 KiB min / median', 'GET 64 MiB, one stream', 'GET 64 MiB, 8 ranged GETs in parallel'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, widths.map((w) => '-'.repeat(w)), ...rows]) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join(' | '));
  console.log(problems.length ? `LEFT BEHIND:\n${problems.join('\n')}` : 'after stop: no namespace, no link device, no MinIO process left');
  if (problems.length) process.exitCode = 1;
}

/** What stop() should have removed but did not. */
function leftovers(far: NetemMinio): string[] {
  const problems: string[] = [];
  if (run(IP, ['netns', 'list']).includes(far.namespace)) problems.push(`namespace ${far.namespace}`);
  if (run(IP, ['-o', 'link', 'show']).includes(`s3c${far.namespace.slice(-6)}`)) problems.push(`link device ${far.hostInterface}`);
  // MinIO's command line names its address, the delay line's names the host device.
  const marks = [new URL(far.endpoint.endpoint).host, far.hostInterface];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (marks.some((mark) => cmdline.includes(mark))) problems.push(`process ${pid}: ${cmdline.replaceAll('\0', ' ')}`);
    } catch {
      // Exited while we looked.
    }
  }
  return problems;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv.includes('--selftest')) {
  const at = process.argv.indexOf('--delays');
  const delays = at > 0 ? (process.argv[at + 1] ?? '').split(',').map(Number) : [10];
  await selftest(delays);
}
