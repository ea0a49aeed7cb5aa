/**
 * What the agent's binding table reports is what the wire protocol accepts: every sighting the
 * agent makes of the lab captures and of tcpdump's corpus, sent as a batch, passes the
 * collector's validation unchanged.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FramePipeline, readCaptureFile, type Sighting } from '@ipwarden/agent';
import { decodeAgentMessage, encodeMessage, MAX_BATCH_ITEMS } from '@ipwarden/protocol';
import { describe, expect, it } from 'vitest';
import { corpusDir, repoRoot } from './support/paths.js';

function sightingsOf(file: string): Sighting[] {
  const out: Sighting[] = [];
  const pipeline = new FramePipeline((sighting) => out.push(sighting));
  readCaptureFile(file, (r) => pipeline.push(r.linkType, r.bytes, r.offset, r.length, r.timestampMs));
  return out;
}

const labDir = join(repoRoot, 'test', 'fixtures', 'lab');
const captures = [
  ...readdirSync(labDir)
    .filter((f) => f.endsWith('.pcap'))
    .map((f) => join(labDir, f)),
  ...readdirSync(corpusDir())
    .filter((f) => /\.(pcap|pcapng)$/.test(f))
    .map((f) => join(corpusDir(), f)),
];

describe('sightings on the wire', () => {
  it('are all valid protocol messages, from every lab capture and corpus file', () => {
    let total = 0;
    const refused: string[] = [];
    for (const file of captures) {
      const items = sightingsOf(file).map((s) => ({ ...s, interface: 'eth0' }));
      total += items.length;
      for (let at = 0; at < items.length; at += MAX_BATCH_ITEMS) {
        const decoded = decodeAgentMessage(
          encodeMessage({ type: 'sightings', seq: 1, items: items.slice(at, at + MAX_BATCH_ITEMS) }),
        );
        if (!decoded.ok) refused.push(`${file}: ${decoded.detail}`);
      }
    }
    expect(refused).toEqual([]);
    expect(total).toBeGreaterThan(100);
  });
});
