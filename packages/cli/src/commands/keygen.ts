// `s3crypt keygen FILE`: a fresh 256-bit master key, readable by its owner only, never overwriting.
import { randomBytes } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, ExitCode } from '../exit-codes.js';
import type { CommandRunner } from '../runner.js';

export function registerKeygen(program: Command, run: CommandRunner): void {
  program
    .command('keygen')
    .description('write a fresh 32-byte master key to FILE (mode 0600) for --key file:FILE; never overwrites an existing file (exit 2)')
    .argument('<file>', 'the key file to create')
    .action(run(async ({ session }, file: string) => {
      let handle;
      try {
        // 'wx': created here or not at all, so an existing key (and every object under it) is never lost.
        handle = await open(file, 'wx', 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(ExitCode.Usage, `${file} already exists: keygen never overwrites a key file (objects under that key would be lost)`);
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(ExitCode.NotFound, `cannot create ${file}: its directory does not exist`);
        throw error;
      }
      const key = randomBytes(32);
      try {
        await handle.writeFile(key);
        await handle.sync();
      } catch (error) {
        // A partial key file (disk full) must not stay behind looking like a key that lost its objects.
        await handle.close();
        await rm(file, { force: true });
        throw error;
      } finally {
        key.fill(0);
        await handle.close().catch(() => undefined);
      }
      if (!session.options.quiet) session.io.stderr.write(`wrote a new 256-bit key to ${file} (mode 0600); use it with --key file:${file} and keep a backup: objects under it cannot be read without it\n`);
      return ExitCode.Success;
    }));
}
