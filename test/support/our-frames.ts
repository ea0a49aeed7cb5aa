/** ipwarden's view of a capture, frame by frame: the same path as `ipwarden-agent read --all`. */
import { readCaptureFile } from '@ipwarden/agent';
import {
  type CaptureSummary,
  isSupportedLinkType,
  Malformed,
  type Observation,
  observeFrame,
} from '@ipwarden/netcodec';

export interface OurFrames {
  /** Frame number (1-based, as tshark counts) → observations, or why the frame is malformed. */
  frames: Map<number, readonly Observation[] | Malformed>;
  skippedLinkTypes: Set<number>;
  summary: CaptureSummary;
}

export function ourFrames(file: string): OurFrames {
  const frames = new Map<number, readonly Observation[] | Malformed>();
  const skippedLinkTypes = new Set<number>();
  let n = 0;
  const summary = readCaptureFile(file, (record) => {
    n++;
    if (!isSupportedLinkType(record.linkType)) {
      skippedLinkTypes.add(record.linkType);
      return;
    }
    const result = observeFrame(record.linkType, record.bytes, record.offset, record.offset + record.length);
    if (result instanceof Malformed || result.length > 0) frames.set(n, result);
  });
  return { frames, skippedLinkTypes, summary };
}
