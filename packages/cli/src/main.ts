// The `s3crypt` program: global options, the commands, and the mapping of every outcome onto the
// documented exit codes.
import { Command, CommanderError, Option } from 'commander';
import { registerAuditVerify } from './commands/audit-verify.js';
import { registerCp } from './commands/cp.js';
import { registerGet } from './commands/get.js';
import { registerInspect } from './commands/inspect.js';
import { registerKeygen } from './commands/keygen.js';
import { registerLs } from './commands/ls.js';
import { registerPut } from './commands/put.js';
import { registerRotate } from './commands/rotate.js';
import { collect, positiveInteger } from './commands/transfer-options.js';
import { registerVerify } from './commands/verify.js';
import { ExitCode, exitCodeOf } from './exit-codes.js';
import { displayText } from './output.js';
import { commandRunner } from './runner.js';
import type { Output } from './session.js';

/** Exit code of a run stopped by Ctrl-C (the shell convention, 128 + SIGINT). */
export const INTERRUPTED = 130;

const EXIT_CODES_HELP = `
Keys (--key, repeatable; the first wraps new objects, all may unwrap; default $S3CRYPT_KEY):
  file:PATH            a 32-byte key file (s3crypt keygen PATH)
  aws-kms:KEY-ID|ARN   AWS KMS (credentials and region from the AWS SDK's chain)
  vault:KEY-NAME       Vault/OpenBao Transit ($VAULT_ADDR, $VAULT_TOKEN, $VAULT_TRANSIT_MOUNT)
  azure:KEY-URL        Azure Key Vault (DefaultAzureCredential)
  gcp:KEY-NAME         Google Cloud KMS (application default credentials)
  s3ec-aes:PATH        an AWS S3 Encryption Client AES key (AES/GCM wrapping; with --s3ec)
  s3ec-rsa:PEM         an AWS S3 Encryption Client RSA private key (RSA-OAEP-SHA1; with --s3ec)

Exit codes: 0 success, 1 unexpected error, 2 usage error, 3 not found, 4 integrity failure,
5 key failure, 6 some objects of a bulk operation failed, 130 interrupted.
`;

function program(): Command {
  return new Command('s3crypt')
    .description('client-side encryption for S3 and S3-compatible stores: the store only ever sees ciphertext')
    .version('0.1.0')
    .option('--key <spec>', 'key-encryption key, PROVIDER:VALUE (repeatable)', collect)
    .option('--endpoint-url <url>', 'S3 endpoint (MinIO, Ceph, …); path-style addressing is used with it')
    .option('--region <region>', 'AWS region (also for AWS KMS)')
    .option('--profile <name>', 'AWS shared-config profile')
    .option('--customer-key-file <path>', 'a 32-byte customer key (SSE-C style) for every object request; kept client-side, only its salted fingerprint is stored')
    .option('--audit-log <dir>', 'record every key operation in a tamper-evident audit log in this directory (needs --audit-signing-key)')
    .option('--audit-signing-key <pem>', 'Ed25519 or ECDSA P-384 private key that signs the audit log checkpoints')
    .option('--context <key=value>', 'encryption context bound into objects (repeatable); readers must give it again', collect)
    .option('--discovery', 'trust any key-encryption key the keys can unwrap (default: only the keys given)')
    .addOption(new Option('--min-format-version <n>', 'refuse objects of an older s3crypt format').choices(['1', '2']))
    .option('--verify-with <pem>', 'require every object read to be signed by this public key (repeatable)', collect)
    .option('--sign-with <pem>', 'sign the objects written with this ECDSA P-384 private key')
    .option('--allow-plaintext-read <s3url>', 'objects under s3://BUCKET[/PREFIX] without encryption may be read as plaintext (repeatable)', collect)
    .option('--s3ec', 'also read objects of the AWS S3 Encryption Client (V3, key-committing)')
    .addOption(
      new Option('--s3ec-commitment-policy <policy>', 'with --s3ec: require-encrypt-allow-decrypt also reads V2 (no key commitment)')
        .choices(['require-encrypt-require-decrypt', 'require-encrypt-allow-decrypt', 'forbid-encrypt-allow-decrypt']),
    )
    .option('--s3ec-legacy', 'with --s3ec: also V1 objects (AES-CBC, unauthenticated) and legacy key wrappings')
    .option('--s3ec-write', 'write objects in the AWS S3 Encryption Client V3 format (for readers that speak only it; implies --s3ec)')
    .option('--s3ec-instruction-file', 'with --s3ec-write: the wrapped key goes in <key>.instruction')
    .option('--ranges-in-flight <n>', 'large downloads: ranged GETs at once, decrypted on worker threads (default 4; 1: one GET per object); memory is about 8 MiB × (this + 1) × 2', positiveInteger)
    .option('-q, --quiet', 'no progress and no informational messages')
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError('(run with --help for usage)');
}

function processOutput(): Output {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

/**
 * Runs `s3crypt` with `argv` (without the node and script paths) and resolves its exit code; never
 * rejects and never exits the process.
 *
 * @example
 * ```ts
 * process.exitCode = await main(['put', 'report.csv', 's3://bucket/report.csv', '--key', 'file:master.key']);
 * ```
 */
export async function main(argv: readonly string[], io: Output = processOutput()): Promise<number> {
  const controller = new AbortController();
  const interrupt = () => controller.abort(new Error('interrupted'));
  const trapSignals = io.stdout === process.stdout;
  if (trapSignals) {
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
  }
  const result = { code: ExitCode.Success as number };
  const cli = program()
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });
  const run = commandRunner(io, controller.signal, result);
  registerPut(cli, run);
  registerGet(cli, run);
  registerCp(cli, run);
  registerLs(cli, run);
  registerInspect(cli, run);
  registerVerify(cli, run);
  registerRotate(cli, run);
  registerKeygen(cli, run);
  registerAuditVerify(cli, run);
  try {
    await cli.parseAsync(argv, { from: 'user' });
    return result.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with code 0 through the same path as usage errors.
      return error.exitCode === 0 ? ExitCode.Success : ExitCode.Usage;
    }
    if (controller.signal.aborted) {
      io.stderr.write('s3crypt: interrupted; nothing was left half-written (uploads aborted, partial downloads removed)\n');
      return INTERRUPTED;
    }
    const code = exitCodeOf(error);
    io.stderr.write(`s3crypt: ${errorLabel(error)}${displayText((error as Error)?.message ?? String(error))}\n${hint(code, error)}`);
    return code;
  } finally {
    if (trapSignals) {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
    }
  }
}

function errorLabel(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && code.startsWith('ERR_')) return `${code}: `;
  const name = (error as { name?: unknown })?.name;
  return typeof name === 'string' && name !== 'Error' && name !== 'CliError' ? `${displayText(name)}: ` : '';
}

function hint(code: number, error: unknown): string {
  switch (code) {
    case ExitCode.Integrity:
      // The one integrity code a write raises: the data did not have the length it was declared with.
      if ((error as { code?: unknown })?.code === 'ERR_BODY_LENGTH_MISMATCH') return 's3crypt: the data did not have the length declared for it (a file changed while it was read?); nothing was stored\n';
      return 's3crypt: the stored object failed authentication: it was altered, truncated, replaced or is not what it claims to be; s3crypt released no byte of it that did not authenticate (a file destination was not created)\n';
    case ExitCode.Key:
      return 's3crypt: check --key (or S3CRYPT_KEY): the object may be under another key, or the KMS refused or could not be reached\n';
    case ExitCode.NotFound:
      return 's3crypt: check the bucket, key or path (`s3crypt ls s3://BUCKET/PREFIX/` lists what is there)\n';
    default:
      return '';
  }
}
