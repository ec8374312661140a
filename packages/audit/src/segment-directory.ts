// The local directory of segment files: listing in chain order, durable appends and creation.
import { constants } from 'node:fs';
import { open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { isSegmentName } from './record.js';

/** Segment files in `directory`, in chain order (their names sort by first sequence number). */
export async function listSegmentFiles(directory: string): Promise<string[]> {
  const names = await readdir(directory);
  return names.filter(isSegmentName).sort();
}

export function readSegmentFile(directory: string, name: string): Promise<Buffer> {
  return readFile(join(directory, name));
}

/** Makes a created or removed directory entry durable, as fsync on the file alone does not. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

// Where the platform has O_DSYNC, a segment's descriptor makes each write durable before it returns:
// one system call per batch of records instead of a write and an fdatasync. Elsewhere, fdatasync.
const SYNCHRONOUS_WRITES = typeof constants.O_DSYNC === 'number';
const CREATE_SEGMENT = SYNCHRONOUS_WRITES ? constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND | constants.O_DSYNC : 'wx';

/** Creates a new segment file (never an existing one) holding `firstLine`, durably. */
export async function createSegmentFile(directory: string, name: string, firstLine: Buffer): Promise<FileHandle> {
  const handle = await open(join(directory, name), CREATE_SEGMENT);
  try {
    await appendDurably(handle, firstLine);
    await syncDirectory(directory);
    return handle;
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Writes all of `bytes` at the end of a segment file opened by {@link createSegmentFile}, and resolves
 * once they are on stable storage.
 */
export async function appendDurably(handle: FileHandle, bytes: Buffer): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
  if (!SYNCHRONOUS_WRITES) await handle.datasync();
}
