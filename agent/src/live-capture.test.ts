import { fileURLToPath } from 'node:url';
import { LinkType, observeFrame } from '@ipwarden/netcodec';
import pcap from 'pcap';
import { describe, expect, it } from 'vitest';
import { CAPTURE_FILTER } from './capture-filter.js';
import { CapturePermissionError, checkCaptureCapabilities, missingCaptureCapabilities } from './live-capture.js';

const labCapture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/lab/${name}`, import.meta.url));

/** The frames of a capture file that libpcap's compiled CAPTURE_FILTER lets through. */
function filtered(file: string): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const frames: Buffer[] = [];
    const session = pcap.createOfflineSession(file, { filter: CAPTURE_FILTER });
    session.on('packet', (raw: { buf: Buffer; header: Buffer }) => {
      frames.push(Buffer.from(raw.buf.subarray(0, raw.header.readUInt32LE(8))));
    });
    session.on('complete', () => resolve(frames));
  });
}

describe('the capture filter', () => {
  it.each(['arp.pcap', 'ndp.pcap', 'mdns.pcap', 'dhcp.pcap'])(
    'compiles in libpcap and lets through only frames the decoders read, from %s',
    async (name) => {
      const frames = await filtered(labCapture(name));
      expect(frames.length).toBeGreaterThan(0);
      for (const frame of frames) {
        const etherType = frame.readUInt16BE(12);
        // ARP, or IPv4/IPv6 carrying UDP 67/68/5353 or ICMPv6 ND — never the pings around them.
        expect([0x0806, 0x0800, 0x86dd]).toContain(etherType);
        if (etherType === 0x0806) expect(observeFrame(LinkType.ETHERNET, frame, 0, frame.length)).not.toEqual([]);
        if (etherType === 0x0800) expect(frame[23]).toBe(17); // UDP
      }
    },
  );
});

describe('missingCaptureCapabilities', () => {
  const status = (capEff: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\n`;

  it('names both capabilities when the process has none', () => {
    expect(missingCaptureCapabilities(status('0000000000000000'))).toEqual(['CAP_NET_RAW', 'CAP_NET_ADMIN']);
  });

  it('names the one that is missing', () => {
    expect(missingCaptureCapabilities(status('0000000000002000'))).toEqual(['CAP_NET_ADMIN']); // bit 13: NET_RAW
    expect(missingCaptureCapabilities(status('0000000000001000'))).toEqual(['CAP_NET_RAW']); // bit 12: NET_ADMIN
  });

  it('names none for root', () => {
    expect(missingCaptureCapabilities(status('000001ffffffffff'))).toEqual([]);
  });
});

describe('checkCaptureCapabilities', () => {
  const status = (capEff: string) => `Name:\tnode\nCapEff:\t${capEff}\n`;

  it('says which capability is missing, on which interfaces, and how to grant it', () => {
    expect(() => checkCaptureCapabilities(['eth0', 'eth1'], status('0000000000001000'))).toThrow(
      new CapturePermissionError(
        'capturing on eth0, eth1 needs CAP_NET_RAW: run as root, or grant them with ' +
          'setpriv --ambient-caps=+net_raw,+net_admin --inh-caps=+net_raw,+net_admin (or setcap cap_net_raw,cap_net_admin+eip on the node binary)',
      ),
    );
  });

  it('passes for a process that has both', () => {
    expect(() => checkCaptureCapabilities(['eth0'], status('0000000000003000'))).not.toThrow();
  });
});
