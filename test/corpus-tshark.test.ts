/**
 * Correctness against tshark: for every corpus file that holds ARP, NDP, mDNS or DHCP frames,
 * ipwarden's per-frame observations (what `read --all` prints) equal those derived from
 * tshark's decoding of the same file, and ipwarden sees nothing where tshark sees none of them.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Malformed } from '@ipwarden/netcodec';
import { describe, expect, it } from 'vitest';
import { ourFrames } from './support/our-frames.js';
import { corpusDir } from './support/paths.js';
import { type OracleFrame, observationKey, tsharkFrames } from './support/tshark-oracle.js';

const dir = corpusDir();
const files = readdirSync(dir).filter((f) => /\.(pcap|pcapng)$/.test(f));

/** tshark on every file, two at a time (one per core). */
async function runOracle(): Promise<Map<string, OracleFrame[]>> {
  const results = new Map<string, OracleFrame[]>();
  const queue = [...files];
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      results.set(file, await tsharkFrames(join(dir, file)));
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

const oracle = await runOracle();
const relevant = files.filter((f) => (oracle.get(f) ?? []).length > 0);

/** Differences between tshark's and ipwarden's reading of one file, one line each. */
function differences(file: string): string[] {
  const theirs = new Map((oracle.get(file) ?? []).map((f) => [f.frame, f]));
  const ours = ourFrames(join(dir, file));
  const problems: string[] = [];
  for (const [frame, expected] of theirs) {
    const got = ours.frames.get(frame) ?? [];
    if (got instanceof Malformed) {
      if (!expected.malformed && expected.direct)
        problems.push(`frame ${frame}: ipwarden says malformed (${got}), tshark does not`);
      continue;
    }
    const want = expected.direct ? expected.expected.map(observationKey).sort() : [];
    const have = got.map(observationKey).sort();
    if (JSON.stringify(want) !== JSON.stringify(have)) {
      problems.push(
        `frame ${frame} (${expected.protocols}): tshark ${JSON.stringify(want)} ipwarden ${JSON.stringify(have)}`,
      );
    }
  }
  for (const [frame, got] of ours.frames) {
    if (!theirs.has(frame) && !(got instanceof Malformed)) {
      problems.push(
        `frame ${frame}: ipwarden observes ${JSON.stringify(got.map(observationKey))}, tshark sees no such protocol`,
      );
    }
  }
  return problems;
}

describe('the corpus against tshark', () => {
  it('finds the files that hold ARP, NDP or DHCP frames', () => {
    // A sanity check on the oracle itself: these are known to be in tcpdump's test captures.
    expect(relevant).toEqual(
      expect.arrayContaining(['802.1ad_QinQ.pcap', 'arp-oobr.pcap', 'dhcp-rfc4388.pcap', 'icmpv6.pcap']),
    );
  });

  it.each(relevant)('%s: ipwarden observes what tshark decodes', (file) => {
    expect(differences(file)).toEqual([]);
  });

  it('observes nothing in the files where tshark sees none of these protocols', () => {
    const problems = files.filter((f) => !relevant.includes(f)).flatMap((f) => differences(f).map((p) => `${f} ${p}`));
    expect(problems).toEqual([]);
  });
});
