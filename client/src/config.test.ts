import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfigFile, loadConfig } from './config.js';

const home = mkdtempSync(join(tmpdir(), 'ipwarden-client-config-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

let files = 0;
/** A configuration file with `mode`. */
function file(content: unknown, mode = 0o600): string {
  const path = join(home, `config-${files++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(path, mode);
  return path;
}

const load = (flags: Record<string, unknown>, env: Record<string, string | undefined> = {}) =>
  loadConfig({ flags, env, home });

describe('loadConfig', () => {
  it('takes flags over environment over file, and defaults the rest', () => {
    const config = file({ server: 'http://file:1', token: 'file-token', timeoutSeconds: 5 });
    const env = { IPWARDEN_SERVER: 'http://env:2', IPWARDEN_TOKEN: 'env-token', IPWARDEN_CONFIG: config };
    expect(load({ server: 'http://flag:3' }, env).config).toEqual({
      server: 'http://flag:3',
      token: 'env-token',
      timeoutSeconds: 5,
    });
    expect(load({}, env).config).toEqual({ server: 'http://env:2', token: 'env-token', timeoutSeconds: 5 });
    expect(load({ config }).config).toEqual({ server: 'http://file:1', token: 'file-token', timeoutSeconds: 5 });
    expect(load({ server: 'http://flag:3' }).config).toEqual({
      server: 'http://flag:3',
      token: undefined,
      timeoutSeconds: 30,
    });
  });

  it('treats an empty environment variable as unset', () => {
    const config = file({ server: 'http://file:1', token: 'file-token' });
    expect(load({ config }, { IPWARDEN_TOKEN: '', IPWARDEN_SERVER: '' }).config.token).toBe('file-token');
  });

  it('reads the default file under XDG_CONFIG_HOME, else ~/.config, and does without one', () => {
    expect(defaultConfigFile({ XDG_CONFIG_HOME: '/xdg' }, '/home/u')).toBe('/xdg/ipwarden/config.json');
    expect(defaultConfigFile({}, '/home/u')).toBe('/home/u/.config/ipwarden/config.json');
    const xdg = join(home, 'xdg');
    mkdirSync(join(xdg, 'ipwarden'), { recursive: true });
    writeFileSync(join(xdg, 'ipwarden', 'config.json'), JSON.stringify({ server: 'http://xdg:4' }));
    expect(load({}, { XDG_CONFIG_HOME: xdg }).config.server).toBe('http://xdg:4');
    expect(load({ server: 'http://flag:3' }, { XDG_CONFIG_HOME: join(home, 'none') }).config.server).toBe(
      'http://flag:3',
    );
  });

  it('keeps a path prefix of the server and drops a trailing slash', () => {
    expect(load({ server: 'https://proxy.example/ipam/' }).config.server).toBe('https://proxy.example/ipam');
    expect(load({ server: 'http://127.0.0.1:8080/' }).config.server).toBe('http://127.0.0.1:8080');
  });

  it('warns when a file holding a token is open to other users, not when it is 0600', () => {
    const open = file({ server: 'http://file:1', token: 'file-token' }, 0o644);
    expect(load({ config: open }).warnings).toEqual([expect.stringMatching(/holds a token .*mode 0644.*chmod 600/)]);
    expect(load({ config: file({ server: 'http://file:1', token: 'file-token' }) }).warnings).toEqual([]);
    expect(load({ config: file({ server: 'http://file:1' }, 0o644) }).warnings).toEqual([]);
  });

  it.each([
    [{}, {}, /^no server: give --server URL, set IPWARDEN_SERVER, or put "server" in .*config\.json$/],
    [{ server: 'ftp://x' }, {}, /^--server: "ftp:\/\/x" is not http:\/\/ or https:\/\/$/],
    [{ server: 'not a url' }, {}, /^--server: "not a url" is not a URL$/],
    [{}, { IPWARDEN_SERVER: 'ipam:8080' }, /^IPWARDEN_SERVER \(--server\): "ipam:8080" is not http/],
    [{ server: 'http://x', token: 'has space' }, {}, /^--token: a token of printable characters without spaces$/],
    [{ server: 'http://x', timeout: '0' }, {}, /^--timeout: a whole number from 1 to 3600, not "0"$/],
    [{ server: 'http://x', config: '/nonexistent/config.json' }, {}, /^cannot read configuration \/nonexistent/],
  ])('refuses %j %j', (flags, env, message) => {
    expect(() => load(flags, env)).toThrow(message);
  });

  it('refuses a file that is not a JSON object, or has options it does not know', () => {
    expect(() => load({ config: file('{') })).toThrow(/is not JSON/);
    expect(() => load({ config: file([1]) })).toThrow(/must be a JSON object/);
    expect(() => load({ config: file({ server: 'http://x', colour: 'red' }) })).toThrow(/unknown option "colour"/);
    const path = file({ server: 'http://x', timeoutSeconds: '5' });
    expect(() => load({ config: path })).toThrow(`"timeoutSeconds" in ${path} (--timeout): a whole number`);
  });

  it('never echoes a token it refuses', () => {
    expect(() => load({ server: 'http://x', token: 'secret value' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('secret') }),
    );
  });
});
