// The packages as a new user gets them: every package is built and packed with `npm pack`, the
// tarballs are installed into a fresh project (third-party packages from the npm cache, or the
// registry), and three apps in it — plain CommonJS, plain ESM, and TypeScript compiled to CommonJS
// with tsc against the packed types — each load @s3crypt/client and the KMS packages and round-trip an
// object through a real OpenBao Transit key and the test MinIO. The project's linked `s3crypt` binary
// (what `npm install -g @s3crypt/cli` links onto the PATH) does the same from the shell.
//
// One install serves the three apps: each app is its own folder with its own package.json (module
// type), resolving the shared node_modules of the project above it, exactly as an app would.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freshBucket, s3Client } from './harness/minio.js';
import { openBaoWithTransit, type OpenBao } from './harness/openbao.js';
import { freePort, tempDir } from './harness/process.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(REPO, 'test', 'packaging');
const PACKAGES = ['client', 'audit', 'batch-rotation', 'cli', 'hierarchical-keyring', 'kms-aws', 'kms-azure', 'kms-gcp', 'kms-vault'] as const;
const rootManifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

interface PackResult {
  readonly name: string;
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

interface AppReport {
  readonly resolved: string;
  readonly roundTrip: boolean;
  readonly storedHasPlaintext: boolean;
  readonly kmsErrorIsS3CryptError: boolean;
  readonly kmsErrorCode: string;
  readonly keyrings: readonly string[];
  /** ESM app only: options attached by the CommonJS build's withS3Crypt, read by the ESM build. */
  readonly contextAcrossBuilds?: { readonly otherBuild: string; readonly withoutContext: string; readonly withContext: boolean };
}

let work: string;
let packed: PackResult[];
let bao: OpenBao;
let appEnv: NodeJS.ProcessEnv;

async function npm(args: readonly string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', [...args], { cwd, maxBuffer: 16 << 20 });
  return stdout;
}

async function runApp(folder: string, entry: string): Promise<AppReport> {
  const { stdout } = await run(process.execPath, [entry], { cwd: folder, env: appEnv });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as AppReport;
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** A folder in the project with its own package.json (module type) and the fixture app copied in. */
function app(name: string, type: 'commonjs' | 'module', fixture: string, entry: string): string {
  const folder = join(work, 'project', name);
  mkdirSync(folder, { recursive: true });
  writeJson(join(folder, 'package.json'), { name: `s3crypt-${name}-app`, private: true, type });
  copyFileSync(join(FIXTURES, fixture), join(folder, entry));
  return folder;
}

beforeAll(async () => {
  work = tempDir('packaging');
  await run('bash', [join(REPO, 'scripts', 'build.sh')], { cwd: REPO });
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  packed = JSON.parse(await npm(['pack', '--json', '--pack-destination', tarballs, ...PACKAGES.map((name) => `--workspace=packages/${name}`)], REPO)) as PackResult[];

  const project = join(work, 'project');
  mkdirSync(project);
  const dependencies = Object.fromEntries(packed.map((result) => [result.name, `file:${join(tarballs, result.filename)}`]));
  for (const name of ['@aws-sdk/client-s3', '@types/node']) dependencies[name] = rootManifest.devDependencies[name]!;
  writeJson(join(project, 'package.json'), { name: 's3crypt-fresh-project', private: true, dependencies });
  // --prefer-offline: third-party packages come from the npm cache the repository's own install
  // filled; only what is missing there is fetched.
  await npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], project);

  bao = await openBaoWithTransit();
  const keyName = `s3crypt-packaging-${process.pid}-${Date.now().toString(36)}`;
  await bao.api('POST', `transit/keys/${keyName}`, { type: 'aes256-gcm96' });

  const s3 = inject('s3');
  appEnv = {
    PATH: process.env.PATH,
    S3_ENDPOINT: s3.endpoint,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    S3_BUCKET: await freshBucket(s3Client(s3), 'packaging'),
    VAULT_ADDR: bao.endpoint,
    VAULT_TOKEN: bao.rootToken,
    VAULT_KEY_NAME: keyName,
    // A port nobody listens on: the KMS package's connection failure must reach the app as the
    // app's own S3CryptError class (one copy of @s3crypt/client, shared through the peer dependency).
    UNREACHABLE_VAULT_ADDR: `http://127.0.0.1:${await freePort()}`,
  };
}, 180_000);

afterAll(async () => {
  await bao?.server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarballs', () => {
  it('each ship both builds with types, the LICENSE and a README; the other packages peer-depend on a caret range of the client', () => {
    const license = readFileSync(join(REPO, 'LICENSE'), 'utf8');
    expect(license).toMatch(/Apache License\s+Version 2\.0/);
    expect(packed.map((result) => result.name).sort()).toEqual(PACKAGES.map((name) => `@s3crypt/${name}`).sort());
    for (const result of packed) {
      const paths = result.files.map((file) => file.path);
      expect(paths).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/package.json']));
      const installed = join(work, 'project', 'node_modules', result.name);
      expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toBe(license);
      const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
      expect(manifest.repository).toMatchObject({ url: 'git+https://github.com/s3crypt/s3crypt.git', directory: `packages/${result.name.slice('@s3crypt/'.length)}` });
      if (result.name === '@s3crypt/client') continue;
      if (result.name === '@s3crypt/cli') {
        // An application, not a library: it depends on the client itself, and ships its binary.
        expect(paths).toContain('bin/s3crypt.js');
        expect(manifest.dependencies?.['@s3crypt/client']).toMatch(/^\^\d+\.\d+\.\d+$/);
        continue;
      }
      expect(manifest.dependencies?.['@s3crypt/client']).toBeUndefined();
      expect(manifest.peerDependencies?.['@s3crypt/client']).toMatch(/^\^\d+\.\d+\.\d+$/);
    }
  });
});

describe('a fresh project', () => {
  const expectWorkingApp = (report: AppReport, build: 'cjs' | 'esm', keyrings: number) => {
    expect(report.resolved).toMatch(new RegExp(`node_modules/@s3crypt/client/dist/${build}/index\\.js$`));
    expect(report).toMatchObject({ roundTrip: true, storedHasPlaintext: false, kmsErrorIsS3CryptError: true, kmsErrorCode: 'ERR_KMS_UNAVAILABLE' });
    expect(report.keyrings).toEqual(Array.from({ length: keyrings }, () => 'function'));
  };

  it('CommonJS: require() loads every package and round-trips through the Vault keyring', async () => {
    const folder = app('cjs', 'commonjs', 'consumer.cjs', 'index.js');
    expectWorkingApp(await runApp(folder, 'index.js'), 'cjs', 4);
  });

  it('ESM: import loads every package and round-trips through the Vault keyring', async () => {
    const folder = app('esm', 'module', 'consumer.mjs', 'index.js');
    const report = await runApp(folder, 'index.js');
    expectWorkingApp(report, 'esm', 4);
    // Both builds in one process: an object written with the context attached by the CommonJS
    // build's withS3Crypt is unreadable without that context, and readable with it.
    expect(report.contextAcrossBuilds?.otherBuild).toMatch(/node_modules\/@s3crypt\/client\/dist\/cjs\/index\.js$/);
    expect(report.contextAcrossBuilds?.withoutContext).toMatch(/^ERR_/);
    expect(report.contextAcrossBuilds?.withContext).toBe(true);
  });

  it('TypeScript compiled to CommonJS type-checks against the packed types, then runs', async () => {
    const folder = app('ts', 'commonjs', 'consumer.ts', 'index.ts');
    writeJson(join(folder, 'tsconfig.json'), {
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, outDir: 'out', types: ['node'] },
      include: ['index.ts'],
    });
    await run(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', folder], { cwd: folder });
    expectWorkingApp(await runApp(folder, join('out', 'index.js')), 'cjs', 1);
  });
});

describe('the s3crypt binary of the packed @s3crypt/cli', () => {
  it('runs from the install (--help), and encrypts and decrypts through MinIO with a key file', async () => {
    const bin = join(work, 'project', 'node_modules', '.bin', 's3crypt');
    const env = {
      PATH: process.env.PATH,
      AWS_ACCESS_KEY_ID: appEnv.S3_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: appEnv.S3_SECRET_ACCESS_KEY,
      AWS_REGION: 'us-east-1',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    };
    const help = await run(bin, ['--help'], { env });
    expect(help.stdout).toMatch(/^Usage: s3crypt/);
    expect(help.stdout).toMatch(/Exit codes: 0 success/);
    const key = join(work, 'cli.key');
    await run(bin, ['keygen', key], { env });
    const target = `s3://${appEnv.S3_BUCKET}/cli/packed.txt`;
    const global = ['--endpoint-url', appEnv.S3_ENDPOINT as string, '--key', `file:${key}`];
    const put = execFile(bin, [...global, 'put', '-', target], { env });
    put.stdin!.end('from the packed binary');
    await new Promise((resolve, reject) => put.on('exit', (code) => (code === 0 ? resolve(code) : reject(new Error(`put exited ${code}`)))));
    expect((await run(bin, [...global, 'cat', target], { env })).stdout).toBe('from the packed binary');
  });
});
