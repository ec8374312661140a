// `s3crypt audit verify LOG…`: the offline verifier of @s3crypt/audit, from the files alone and the
// checkpoint public key.
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { verifyAuditLog } from '@s3crypt/audit';
import { CliError, ExitCode } from '../exit-codes.js';
import { isDirectory, readLocalFile } from '../local-files.js';
import { displayText, writeJson } from '../output.js';
import type { CommandRunner } from '../runner.js';

export function registerAuditVerify(program: Command, run: CommandRunner): void {
  const audit = program.command('audit').description('work with tamper-evident audit logs (--audit-log)');
  audit
    .command('verify')
    .description('verify a tamper-evident audit log offline: every hash link, every segment link, every checkpoint signature; exit 4 names the first broken record')
    .argument('<log...>', 'segment files, or one directory holding them')
    .requiredOption('--public-key <pem>', "the checkpoint signing key's public half (PEM)")
    .option('--allow-unsealed-tail', 'the log is still being written: records after the last checkpoint are unprovable, not an error')
    .option('--json', 'print the report as JSON')
    .action(run(async ({ session, options }, logs: string[]) => {
      const publicKey = (await readLocalFile(options.publicKey as string, 'public key', ExitCode.Unexpected)).toString('utf8');
      const first = logs[0] as string;
      const directory = logs.length === 1 && (await isDirectory(first));
      for (const file of directory ? [] : logs) {
        await stat(file).catch(() => {
          throw new CliError(ExitCode.NotFound, `audit log file ${file} does not exist`);
        });
      }
      const report = await verifyAuditLog({
        ...(directory ? { directory: first } : { files: logs }),
        publicKey,
        ...(options.allowUnsealedTail ? { allowUnsealedTail: true } : {}),
      });
      if (options.json) writeJson(session.io.stdout, report);
      else {
        const out = session.io.stdout;
        out.write(`${report.ok ? 'OK' : 'BROKEN'}: ${report.records} records (${report.events} events), ${report.checkpoints} checkpoints\n`);
        if (report.unprovable) out.write(`unprovable: records ${report.unprovable.fromSeq}–${report.unprovable.toSeq} come after the last checkpoint\n`);
        for (const torn of report.recoveredTornTails) out.write(`torn tail (from a crash, acknowledged): ${displayText(torn.file)} line ${torn.line}, ${torn.bytes} bytes\n`);
        for (const problem of report.problems) out.write(`${displayText(problem.file)}:${problem.line}${problem.seq !== undefined ? ` seq ${problem.seq}` : ''}: ${problem.kind}: ${displayText(problem.detail)}\n`);
      }
      return report.ok ? ExitCode.Success : ExitCode.Integrity;
    }));
}
