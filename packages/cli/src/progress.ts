// Progress bars (bytes, rate, ETA; per file and in total for bulk copies) on a terminal's stderr;
// nothing on a pipe or with --quiet.
import { MultiBar, type Options, type Params, type SingleBar } from 'cli-progress';
import { displayText, humanBytes } from './output.js';

/** One transfer's progress. */
export interface TransferProgress {
  /** Bytes done so far (absolute). */
  update(bytes: number): void;
  /** The transfer ended (successfully or not). */
  stop(): void;
}

/** Where transfers report progress. */
export interface ProgressReporter {
  /** A bar for one transfer of `total` bytes (undefined: unknown, e.g. stdin). */
  transfer(name: string, total: number | undefined): TransferProgress;
  /** The overall bar of a bulk copy. */
  overall(files: number, bytes: number): TransferProgress & { fileDone(): void };
  /** Prints a line above the bars. */
  log(line: string): void;
  stop(): void;
}

const NO_TRANSFER: TransferProgress = { update() {}, stop() {} };

/** Reports nothing (pipes, --quiet, --json). */
export const silentProgress: ProgressReporter = {
  transfer: () => NO_TRANSFER,
  overall: () => ({ ...NO_TRANSFER, fileDone() {} }),
  log() {},
  stop() {},
};

function rateAndEta(params: Params): string {
  const seconds = Math.max((Date.now() - params.startTime) / 1000, 0.001);
  const rate = `${humanBytes(Math.round(params.value / seconds))}/s`;
  if (!params.total) return rate;
  const eta = Number.isFinite(params.eta) && params.value > 0 ? `ETA ${Math.round(params.eta)}s` : 'ETA --';
  return `${rate} ${eta}`;
}

function format(options: Options, params: Params, payload: { name: string; files?: string }): string {
  const done = humanBytes(params.value);
  if (!params.total) return `${payload.name} ${done} ${rateAndEta(params)}`;
  const width = options.barsize ?? 24;
  const filled = Math.round(Math.min(params.progress, 1) * width);
  const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
  return `${payload.name} [${bar}] ${Math.floor(params.progress * 100)}% ${done}/${humanBytes(params.total)}${payload.files ?? ''} ${rateAndEta(params)}`;
}

/** Bars on `stream` (a terminal). */
export function terminalProgress(stream: NodeJS.WritableStream): ProgressReporter {
  const bars = new MultiBar({ stream: stream as NodeJS.WriteStream, format, barsize: 24, hideCursor: null, clearOnComplete: false, gracefulExit: false, fps: 5, etaBuffer: 20 });
  const add = (name: string, total: number | undefined): SingleBar => bars.create(total ?? 0, 0, { name: displayText(name) });
  // In a bulk copy a finished file's bar makes room for the next one; a single transfer's stays.
  let bulk = false;
  return {
    transfer(name, total) {
      const bar = add(name, total);
      return {
        update: (bytes) => bar.update(bytes),
        stop: () => {
          bar.stop();
          if (bulk) bars.remove(bar);
        },
      };
    },
    overall(files, bytes) {
      bulk = true;
      const bar = add('total', bytes);
      let done = 0;
      bar.update(0, { files: ` ${done}/${files} files` });
      return {
        update: (value) => bar.update(value),
        fileDone: () => bar.update({ files: ` ${++done}/${files} files` }),
        stop: () => bar.stop(),
      };
    },
    log: (line) => bars.log(`${line}\n`),
    stop: () => bars.stop(),
  };
}
