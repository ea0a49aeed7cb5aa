/**
 * Reads a capture file from disk through the pure {@link CaptureReader}, in fixed-size chunks,
 * so that memory stays bounded whatever the size of the file.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { CaptureReader, type CaptureRecord, type CaptureSummary, MAX_BLOCK_LENGTH } from '@ipwarden/netcodec';

const CHUNK_BYTES = 1 << 20; // 1 MiB per read

/**
 * Streams every record of the file at `path` to `onRecord` (valid during the call only).
 * Throws only for I/O errors (a missing or unreadable file); problems in the file's contents
 * end reading and are in the summary's `error`, after every readable record was delivered.
 */
export function readCaptureFile(path: string, onRecord: (record: CaptureRecord) => void): CaptureSummary {
  const fd = openSync(path, 'r');
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
      const read = readSync(fd, buffer, filled, buffer.length - filled, null);
      if (read === 0) return reader.finish(filled);
      filled += read;
      const consumed = reader.feed(buffer, 0, filled, onRecord);
      if (reader.error !== undefined) return reader.finish(filled - consumed);
      buffer.copyWithin(0, consumed, filled);
      filled -= consumed;
    }
  } finally {
    closeSync(fd);
  }
}
