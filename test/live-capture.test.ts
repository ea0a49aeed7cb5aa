/**
 * Live capture through libpcap on a real interface: two network namespaces joined by a veth
 * pair, the agent's capture and pipeline in one, real traffic from the other. Lab addresses only
 * (10.99.0.0/24, fd99::/64); the namespaces go away even when a test fails.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const child = fileURLToPath(new URL('./support/live-capture-child.mjs', import.meta.url));
const tag = `iwc${process.pid}`;
const capturing = `${tag}-c`;
const talking = `${tag}-t`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
const inNamespace = (ns: string, ...command: string[]) =>
  execFileSync('ip', ['netns', 'exec', ns, ...command], { stdio: 'pipe' });

let agent: ChildProcess | undefined;
const sightings: Array<Record<string, unknown>> = [];

function teardown(): void {
  if (agent?.pid !== undefined && agent.exitCode === null) agent.kill('SIGKILL');
  for (const ns of [capturing, talking]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // not there: nothing to remove
    }
  }
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('live capture tests need root (network namespaces, libpcap)');
  teardown();
  ip('netns', 'add', capturing);
  ip('netns', 'add', talking);
  ip('link', 'add', `${tag}a`, 'netns', capturing, 'type', 'veth', 'peer', 'name', `${tag}b`, 'netns', talking);
  ip('-n', capturing, 'addr', 'add', '10.99.0.1/24', 'dev', `${tag}a`);
  ip('-n', talking, 'addr', 'add', '10.99.0.2/24', 'dev', `${tag}b`);
  ip('-n', capturing, '-6', 'addr', 'add', 'fd99::1/64', 'dev', `${tag}a`, 'nodad');
  ip('-n', talking, '-6', 'addr', 'add', 'fd99::2/64', 'dev', `${tag}b`, 'nodad');
  ip('-n', capturing, 'link', 'set', `${tag}a`, 'up');
  ip('-n', talking, 'link', 'set', `${tag}b`, 'up');

  agent = spawn('ip', ['netns', 'exec', capturing, process.execPath, child, `${tag}a`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: agent.stdout! });
  await new Promise<void>((resolve, reject) => {
    agent!.once('exit', (code) => reject(new Error(`capture exited with ${code}`)));
    lines.on('line', (line) => {
      if (line === 'ready') resolve();
      else sightings.push(JSON.parse(line));
    });
  });
}, 30_000);

afterAll(teardown);

/** Waits up to `ms` for a sighting that matches. */
async function sighting(match: Record<string, unknown>, ms = 2000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = sightings.find((s) => Object.entries(match).every(([k, v]) => s[k] === v));
    if (found) return found;
    if (Date.now() > deadline)
      throw new Error(`no sighting like ${JSON.stringify(match)} in ${JSON.stringify(sightings)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('live capture', () => {
  it('sees a fake host announced with arping within two seconds', async () => {
    const sent = Date.now();
    inNamespace(
      talking,
      'arping',
      '-q',
      '-c',
      '1',
      '-w',
      '0.5',
      '-i',
      `${tag}b`,
      '-S',
      '10.99.0.77',
      '-s',
      '02:00:00:00:00:77',
      '10.99.0.1',
    );
    const found = await sighting({ ip: '10.99.0.77', mac: '02:00:00:00:00:77' });
    expect(found).toMatchObject({ source: 'arp', kind: 'host', event: 'new', vlan: 0 });
    expect(Number(found.at)).toBeGreaterThanOrEqual(sent - 1000);
  });

  it('sees the kernel ARP and NDP of a ping', async () => {
    inNamespace(talking, 'ping', '-c', '1', '-W', '1', '10.99.0.1');
    inNamespace(talking, 'ping', '-6', '-c', '1', '-W', '1', 'fd99::1');
    await sighting({ ip: '10.99.0.2', source: 'arp', event: 'new' });
    await sighting({ ip: 'fd99::2', source: 'ndp', event: 'new' });
  });
});

describe('the interfaces watched by default', () => {
  it('are the up, non-loopback ones with an address: here, the namespace veth and not lo', () => {
    const script = `import('@ipwarden/agent').then(({ watchedInterfaces }) => console.log(JSON.stringify(watchedInterfaces())))`;
    const out = inNamespace(capturing, process.execPath, '--input-type=module', '-e', script).toString();
    const watched = JSON.parse(out) as Array<{ name: string; addresses: string[] }>;
    expect(watched.map((w) => w.name)).toEqual([`${tag}a`]);
    expect(watched[0]!.addresses).toEqual(expect.arrayContaining(['10.99.0.1/24', 'fd99::1/64']));
  });
});
