/**
 * Reads a capture file from disk through the pure {@link CaptureReader}, in fixed-size chunks,
 * so that memory stays bounded whatever the size of the file.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { CaptureReader, type CaptureRecord, type CaptureSummary, MAX_BLOCK_LENGTH } from '@ipwarden/netcodec';

const CHUNK_BYTES = 1 << 20; // 1 MiB per read

/** The file could not be opened or read (as opposed to holding something that is not a capture). */
export class CaptureFileError extends Error {
  override readonly name = 'CaptureFileError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`cannot read ${path}: ${reason}`);
  }
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'EACCES') return 'permission denied';
  return (error as Error).message;
}

/**
 * Streams every record of the file at `path` to `onRecord` (valid during the call only).
 * Throws a {@link CaptureFileError} for I/O errors (a missing or unreadable file); problems in
 * the file's contents end reading and are in the summary's `error`, after every readable record
 * was delivered. Exceptions from `onRecord` pass through unchanged.
 */
export function readCaptureFile(path: string, onRecord: (record: CaptureRecord) => void): CaptureSummary {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new CaptureFileError(path, describe(error));
  }
  const read = (buffer: Uint8Array, offset: number): number => {
    try {
      return readSync(fd, buffer, offset, buffer.length - offset, null);
    } catch (error) {
      throw new CaptureFileError(path, describe(error));
    }
  };
  try {
    const reader = new CaptureReader();
    let buffer = new Uint8Array(CHUNK_BYTES);
    let filled = 0;
    for (;;) {
      if (filled === buffer.length) {
        // One block is larger than the buffer: grow it, up to the largest block the reader accepts.
        const grown = new Uint8Array(Math.min(buffer.length * 2, MAX_BLOCK_LENGTH + CHUNK_BYTES));
        grown.set(buffer);
        buffer = grown;
      }
      const got = read(buffer, filled);
      if (got === 0) return reader.finish(filled);
      filled += got;
      const consumed = reader.feed(buffer, 0, filled, onRecord);
      if (reader.error !== undefined) return reader.finish(filled - consumed);
      buffer.copyWithin(0, consumed, filled);
      filled -= consumed;
    }
  } finally {
    closeSync(fd);
  }
}
