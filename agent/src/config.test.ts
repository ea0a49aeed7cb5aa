import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'ipwarden-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const collector = { collector: ['http://10.99.0.1:8080'] };

describe('loadConfig', () => {
  it('fills every option it is not given with its default', () => {
    expect(loadConfig({ flags: collector, env: {} })).toEqual({
      collectors: ['http://10.99.0.1:8080'],
      secret: undefined,
      token: undefined,
      interfaces: [],
      stateDir: '/var/lib/ipwarden-agent',
      name: undefined,
      dhcpBackend: 'none',
      dhcpCheckSeconds: 300,
      pcap: undefined,
      refreshSeconds: 600,
      maxBindings: 100_000,
      outboxBytes: 64 * 1024 * 1024,
      ca: undefined,
      batchItems: 1000,
      flushDelayMs: 5,
      statsSeconds: 10,
    });
  });

  it('takes flags over the environment over the file', () => {
    const config = file('precedence.json', JSON.stringify({ refreshSeconds: 30, maxBindings: 5, name: 'from-file' }));
    const loaded = loadConfig({
      flags: { ...collector, refresh: '10' },
      env: { IPWARDEN_REFRESH_SECONDS: '20', IPWARDEN_MAX_BINDINGS: '7' },
      file: config,
    });
    expect(loaded).toMatchObject({ refreshSeconds: 10, maxBindings: 7, name: 'from-file' });
  });

  it('reads comma-separated lists from the environment, repeated flags from the command line', () => {
    expect(
      loadConfig({
        flags: { interface: ['eth0', 'eth1'] },
        env: { IPWARDEN_COLLECTOR: 'http://a:1, https://b:2/ignored/path' },
      }),
    ).toMatchObject({ collectors: ['http://a:1', 'https://b:2'], interfaces: ['eth0', 'eth1'] });
  });

  it.each([
    [{ flags: {}, env: {} }, /--collector \(IPWARDEN_COLLECTOR\): at least one collector URL is needed/],
    [{ flags: { collector: ['ftp://x'] }, env: {} }, /--collector: "ftp:\/\/x" is not http:\/\/ or https:\/\//],
    [{ flags: { collector: ['not a url'] }, env: {} }, /--collector: "not a url" is not a URL/],
    [{ flags: { ...collector, refresh: '0' }, env: {} }, /--refresh: a whole number from 1 to 86400, not "0"/],
    [{ flags: { ...collector, refresh: '1.5' }, env: {} }, /--refresh: a whole number/],
    [
      { flags: collector, env: { IPWARDEN_MAX_BINDINGS: 'lots' } },
      /IPWARDEN_MAX_BINDINGS \(--max-bindings\): a whole number/,
    ],
    [{ flags: { ...collector, 'dhcp-backend': 'isc' }, env: {} }, /--dhcp-backend: one of none, file, dnsmasq, kea/],
    [{ flags: { ...collector, name: 'n'.repeat(65) }, env: {} }, /--name: at most 64 characters/],
    [{ flags: { ...collector, 'batch-items': '10001' }, env: {} }, /--batch-items: a whole number from 1 to 10000/],
    [{ flags: collector, env: { IPWARDEN_FLUSH_DELAY_MS: '-1' } }, /IPWARDEN_FLUSH_DELAY_MS \(--flush-delay\)/],
  ])('refuses bad configuration, naming the option: %#', (sources, message) => {
    expect(() => loadConfig(sources)).toThrow(message);
  });

  it('refuses a file that is not JSON, not an object, or has options it does not know', () => {
    expect(() => loadConfig({ flags: collector, env: {}, file: file('bad.json', '{') })).toThrow(/is not JSON/);
    expect(() => loadConfig({ flags: collector, env: {}, file: file('list.json', '[]') })).toThrow(
      /must be a JSON object/,
    );
    expect(() => loadConfig({ flags: collector, env: {}, file: file('typo.json', '{"refresh": 5}') })).toThrow(
      /unknown option "refresh"/,
    );
    expect(() => loadConfig({ flags: collector, env: {}, file: file('type.json', '{"maxBindings": "5"}') })).toThrow(
      /"maxBindings" in .*type\.json \(--max-bindings\): a whole number/,
    );
    expect(() => loadConfig({ flags: collector, env: {}, file: join(dir, 'missing.json') })).toThrow(
      /cannot read configuration/,
    );
  });
});
