// How a command's action runs: with a Session built from the global options, an abort signal that
// Ctrl-C fires, and the session closed (audit log sealed) whatever happens.
import type { Command } from 'commander';
import type { ExitCode } from './exit-codes.js';
import { silentProgress, terminalProgress, type ProgressReporter } from './progress.js';
import { Session, type GlobalOptions, type Output } from './session.js';

export interface ActionContext {
  readonly session: Session;
  /** Fires on Ctrl-C (SIGINT) or SIGTERM. */
  readonly signal: AbortSignal;
  /** Bars on a terminal; nothing on a pipe, with --quiet or --json. */
  readonly progress: () => ProgressReporter;
  /** The command's own options. */
  readonly options: Record<string, unknown>;
}

type Action = (context: ActionContext, ...args: never[]) => Promise<ExitCode>;
export type CommandRunner = (action: Action) => (...args: unknown[]) => Promise<void>;

/** Builds the runner of one invocation; the exit code of the action that ran lands in `result.code`. */
export function commandRunner(io: Output, signal: AbortSignal, result: { code: number }): CommandRunner {
  return (action) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const positional = args.slice(0, -2);
      const options = command.opts();
      const globals = command.optsWithGlobals<GlobalOptions>();
      const session = new Session(globals, io);
      const progress = () => (io.stderr.isTTY && !globals.quiet && !options.json ? terminalProgress(io.stderr) : silentProgress);
      try {
        result.code = await action({ session, signal, progress, options }, ...(positional as never[]));
      } finally {
        await session.close();
      }
    };
}
