// The open flags of this process's descriptor on a file, as Linux shows them in /proc/self/fdinfo
// (octal). Tests use it to see that a file meant to be written durably was opened with O_DSYNC:
// durability itself cannot be observed from a test.
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';

/** The flags of the first descriptor open on `path`; throws when none is. Linux only. */
export function openFlagsOf(path: string): number {
  const target = realpathSync(path);
  const fd = readdirSync('/proc/self/fd').find((entry) => {
    try {
      return readlinkSync(`/proc/self/fd/${entry}`) === target;
    } catch {
      return false; // the descriptor readdir itself used is gone
    }
  });
  if (fd === undefined) throw new Error(`no descriptor of this process is open on ${path}`);
  const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
  if (flags === undefined) throw new Error(`/proc/self/fdinfo/${fd} shows no flags`);
  return Number.parseInt(flags, 8);
}
