/**
 * `ipwarden-agent read` as a person or a script runs it: the built binary, real files, exit
 * codes (0 ok, 2 bad usage or input), output on stdout, the summary and errors on stderr.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LinkType, pcapFile } from '@ipwarden/netcodec';
import { afterAll, describe, expect, it } from 'vitest';

const bin = resolve(fileURLToPath(import.meta.url), '..', '..', 'bin', 'ipwarden-agent.js');
const dir = mkdtempSync(join(tmpdir(), 'ipwarden-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function agent(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function bytes(hexString: string): Uint8Array {
  return Uint8Array.from(
    hexString
      .replace(/\s+/g, '')
      .match(/../g)!
      .map((h) => Number.parseInt(h, 16)),
  );
}

/** An ARP request from 10.99.0.7 (02:00:00:00:00:07) asking for 10.99.0.1 (RFC 826). */
function arpRequest(senderLastByte: number, macLastByte: number): Uint8Array {
  const mac = `0200000000${macLastByte.toString(16).padStart(2, '0')}`;
  return bytes(
    `ffffffffffff ${mac} 0806 0001 0800 06 04 0001 ${mac} 0a6300${senderLastByte.toString(16).padStart(2, '0')} 000000000000 0a630001`,
  );
}

function capture(name: string, records: Array<{ timestampMs: number; frame: Uint8Array }>): string {
  const path = join(dir, name);
  writeFileSync(path, pcapFile(LinkType.ETHERNET, records));
  return path;
}

const t0 = Date.UTC(2026, 10, 21, 12, 0, 0);

describe('ipwarden-agent read', () => {
  const flood = capture('flood.pcap', [
    ...Array.from({ length: 50 }, (_, i) => ({ timestampMs: t0 + i, frame: arpRequest(7, 7) })),
    { timestampMs: t0 + 100, frame: arpRequest(7, 8) }, // another MAC takes 10.99.0.7
    { timestampMs: t0 + 700_000, frame: arpRequest(7, 8) }, // past the 600 s refresh interval
  ]);

  it('prints one sighting for a flood of identical frames, then moved and refresh', () => {
    const { status, stdout, stderr } = agent('read', flood);
    expect(status).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      {
        at: t0,
        source: 'arp',
        kind: 'host',
        ip: '10.99.0.7',
        mac: '02:00:00:00:00:07',
        vlan: 0,
        event: 'new',
        detail: { op: 'request' },
      },
      {
        at: t0 + 100,
        source: 'arp',
        kind: 'host',
        ip: '10.99.0.7',
        mac: '02:00:00:00:00:08',
        vlan: 0,
        event: 'moved',
        previousMac: '02:00:00:00:00:07',
        detail: { op: 'request' },
      },
      {
        at: t0 + 700_000,
        source: 'arp',
        kind: 'host',
        ip: '10.99.0.7',
        mac: '02:00:00:00:00:08',
        vlan: 0,
        event: 'refresh',
        detail: { op: 'request' },
      },
    ]);
    expect(stderr).toMatch(
      /^frames 52, observations 52, sightings 3, malformed 0, skipped link types none, in \d+ ms\n$/,
    );
  });

  it('prints every observation with --all, numbered by frame', () => {
    const { status, stdout } = agent('read', '--all', flood);
    expect(status).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(52);
    expect(lines[0]).toEqual({
      at: t0,
      frame: 1,
      source: 'arp',
      kind: 'host',
      ip: '10.99.0.7',
      mac: '02:00:00:00:00:07',
      vlan: 0,
      detail: { op: 'request' },
    });
    expect(lines[51].frame).toBe(52);
  });

  it('prints a table with --format table', () => {
    const { status, stdout } = agent('read', '--format', 'table', flood);
    expect(status).toBe(0);
    const [header, first] = stdout.split('\n');
    expect(header).toMatch(/^TIME\s+SOURCE\s+KIND\s+EVENT\s+VLAN\s+IP\s+MAC\s+HOSTNAME$/);
    expect(first).toMatch(/^2026-11-21T12:00:00\.000Z\s+arp\s+host\s+new\s+0\s+10\.99\.0\.7\s+02:00:00:00:00:07$/);
  });

  it('shows control characters in hostnames escaped in the table, never raw', () => {
    const name = [...'evil\u001b[31m\nfake'].map((c) => c.charCodeAt(0));
    const dns = [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, name.length, ...name, 5, 0x6c, 0x6f, 0x63, 0x61, 0x6c, 0];
    const answer = [...dns, 0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 10, 99, 0, 9];
    const udpLength = 8 + answer.length;
    const ip = [0x45, 0, 0, 20 + udpLength, 0, 0, 0, 0, 255, 17, 0, 0, 10, 99, 0, 9, 224, 0, 0, 251];
    const frame = Uint8Array.from([
      ...[0x01, 0x00, 0x5e, 0, 0, 0xfb, 0x02, 0, 0, 0, 0, 9, 0x08, 0x00],
      ...ip,
      ...[0x14, 0xe9, 0x14, 0xe9, 0, udpLength, 0, 0],
      ...answer,
    ]);
    const file = capture('evil.pcap', [{ timestampMs: t0, frame }]);
    const table = agent('read', '--format', 'table', file);
    expect(table.stdout).toContain('evil\\x1b[31m\\x0afake');
    expect(table.stdout).not.toContain('\u001b');
    const json = agent('read', file);
    expect(JSON.parse(json.stdout).hostname).toBe('evil\u001b[31m\nfake');
  });

  it('counts malformed frames and goes on', () => {
    const file = capture('malformed.pcap', [
      { timestampMs: t0, frame: arpRequest(7, 7).subarray(0, 30) }, // ARP cut after 16 bytes
      { timestampMs: t0 + 1, frame: arpRequest(9, 9) },
    ]);
    const { status, stdout, stderr } = agent('read', file);
    expect(status).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('malformed 1 (arp 1)');
  });

  it('reports a truncated last record with exit code 2, keeping every record before it', () => {
    const whole = pcapFile(LinkType.ETHERNET, [
      { timestampMs: t0, frame: arpRequest(7, 7) },
      { timestampMs: t0 + 1, frame: arpRequest(9, 9) },
    ]);
    const path = join(dir, 'cut.pcap');
    writeFileSync(path, whole.subarray(0, whole.length - 10));
    const { status, stdout, stderr } = agent('read', path);
    expect(status).toBe(2);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/truncated file: the last record at byte 82 is incomplete \(48 bytes\)\n$/);
  });

  it.each([
    ['a missing file', ['read', join(dir, 'nope.pcap')], /cannot read .*nope\.pcap: no such file/],
    ['a directory', ['read', dir], /is a directory/],
    ['a file that is not a capture', ['read', bin], /not a capture file/],
    ['a file too short for a header', ['read', 'SHORT'], /truncated file: 7 bytes, too short/],
    ['an empty file', ['read', 'EMPTY'], /empty file/],
    ['no file', ['read'], /exactly one capture file/],
    ['an unknown option', ['read', '--bogus', 'x'], /Unknown option '--bogus'/],
    ['a bad format', ['read', '--format', 'xml', 'x'], /--format must be ndjson or table/],
    ['an unknown command', ['sniff'], /unknown command "sniff"/],
  ])('refuses %s with one line on stderr and exit code 2', (_, args, message) => {
    writeFileSync(join(dir, 'SHORT'), bytes('d4c3b2a1020004'));
    writeFileSync(join(dir, 'EMPTY'), '');
    const resolved = args.map((a) => (a === 'SHORT' || a === 'EMPTY' ? join(dir, a) : a));
    const { status, stderr } = agent(...resolved);
    expect(status).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n').at(-1)).toMatch(/^ipwarden-agent: /);
  });
});
