import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenStore } from './token-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function stateDir(token?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ipwarden-token-'));
  dirs.push(dir);
  if (token !== undefined) writeFileSync(join(dir, 'token'), `${token}\n`);
  return dir;
}

describe('TokenStore', () => {
  it('shows the given token first, then the stored one, then the secret', () => {
    expect(new TokenStore({ dir: stateDir('stored'), token: 'given', secret: 's' }).current()).toEqual({
      bearer: 'given',
      source: 'token',
    });
    expect(new TokenStore({ dir: stateDir('stored'), secret: 's' }).current()).toEqual({
      bearer: 'stored',
      source: 'stored token',
    });
    expect(new TokenStore({ dir: stateDir(), secret: 's' }).current()).toEqual({ bearer: 's', source: 'secret' });
    expect(new TokenStore({ dir: stateDir() }).current()).toBeUndefined();
  });

  it('stores a token readable by its owner only, and shows it from then on', () => {
    const dir = stateDir();
    const store = new TokenStore({ dir, secret: 's' });
    store.save('agent-token');
    expect(readFileSync(join(dir, 'token'), 'utf8')).toBe('agent-token\n');
    expect(statSync(join(dir, 'token')).mode & 0o777).toBe(0o600);
    expect(store.current()).toEqual({ bearer: 'agent-token', source: 'stored token' });
  });

  it('turns to the secret when the stored token is refused, but never from a token it was given', () => {
    const store = new TokenStore({ dir: stateDir('revoked'), secret: 's' });
    expect(store.refused(store.current()!)).toEqual({ bearer: 's', source: 'secret' });
    const given = new TokenStore({ dir: stateDir('stored'), token: 'given', secret: 's' });
    expect(given.refused(given.current()!)).toEqual({ bearer: 'given', source: 'token' });
    const alone = new TokenStore({ dir: stateDir('revoked') });
    expect(alone.refused(alone.current()!)).toEqual({ bearer: 'revoked', source: 'stored token' });
  });
});
