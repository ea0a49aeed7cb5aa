/**
 * The netns lab, live: runs test/lab/lab.sh (network namespaces, a bridge, tcpdump, arping,
 * avahi-daemon, dnsmasq, udhcpc), checks the fresh captures as the fixtures are checked, and that
 * the lab leaves nothing behind (namespaces, processes) — also when it fails halfway.
 * Needs root; it fails, rather than skips, without it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LabManifest, labChecks, readManifest } from './lab/lab-checks.js';
import { repoRoot } from './support/paths.js';

const execFileAsync = promisify(execFile);
const labScript = join(repoRoot, 'test', 'lab', 'lab.sh');
const LAB_TIMEOUT = 120_000;

interface LabRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The run's network namespaces as lab.sh reported them on creation: name → `net:[inode]`. */
  namespaces: Map<string, string>;
}

async function runLab(outDir: string, prefix: string, env: Record<string, string> = {}): Promise<LabRun> {
  if (process.getuid?.() !== 0) {
    throw new Error('the netns lab needs root (network namespaces, tcpdump): run this suite as root, as CI does');
  }
  const result = await execFileAsync('bash', [labScript, 'capture', outDir], {
    env: { ...process.env, LAB_PREFIX: prefix, ...env },
    timeout: LAB_TIMEOUT - 10_000,
    maxBuffer: 16 * 1024 * 1024,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number | string; stdout?: string; stderr?: string }) => ({
      code: typeof error.code === 'number' ? error.code : -1,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? String(error),
    }),
  );
  const namespaces = new Map<string, string>();
  for (const match of result.stderr.matchAll(/^lab\.sh: netns (\S+) (net:\[\d+\])$/gm)) {
    namespaces.set(match[1]!, match[2]!);
  }
  return { ...result, namespaces };
}

async function netnsNames(): Promise<string[]> {
  const { stdout } = await execFileAsync('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name !== '');
}

/** Processes still inside any of the given network namespaces, as `pid comm`. */
function processesIn(namespaces: Iterable<string>): string[] {
  const wanted = new Set(namespaces);
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      if (wanted.has(readlinkSync(`/proc/${pid}/ns/net`))) {
        found.push(`${pid} ${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}`);
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** A failed lab run's stderr, for the assertion message. */
const why = (run: LabRun) => `lab.sh exited ${run.code}:\n${run.stderr}`;

describe('the lab, live', () => {
  const prefix = `iw-${process.pid}-live-`;
  const outDir = mkdtempSync(join(tmpdir(), 'ipwarden-lab-live-'));
  let run: LabRun;
  let manifest: LabManifest;

  beforeAll(async () => {
    run = await runLab(outDir, prefix);
    if (run.code !== 0) throw new Error(why(run));
    manifest = readManifest(outDir);
  }, LAB_TIMEOUT);

  afterAll(() => {
    rmSync(outDir, { recursive: true, force: true });
  });

  it('prints the manifest it writes, for this run', () => {
    expect(JSON.parse(run.stdout)).toEqual(manifest);
    expect(manifest.prefix).toBe(prefix);
    expect(manifest.elapsedMs).toBeLessThan(60_000);
    expect([...run.namespaces.keys()].sort()).toEqual(
      [`${prefix}br`, ...Object.values(manifest.hosts).map((h) => h.ns)].sort(),
    );
  });

  it('leaves no namespace and no process behind', async () => {
    expect((await netnsNames()).filter((name) => name.startsWith(prefix))).toEqual([]);
    expect(run.namespaces.size).toBe(6);
    expect(processesIn(run.namespaces.values())).toEqual([]);
  });

  labChecks(() => ({ dir: outDir, manifest }));
});

describe('the lab, failing halfway', () => {
  // Fails while avahi and tcpdump run, and while dnsmasq and tcpdump run.
  it.each(['mdns', 'dhcp'])(
    'cleans up after a failure in the %s phase',
    async (phase) => {
      const prefix = `iw-${process.pid}-fail-${phase}-`;
      const outDir = mkdtempSync(join(tmpdir(), 'ipwarden-lab-fail-'));
      try {
        const run = await runLab(outDir, prefix, { LAB_FAIL_AT: phase });
        expect(run.code, run.stderr).not.toBe(0);
        expect(run.stderr).toContain(`failing in phase ${phase}`);
        expect(run.namespaces.size).toBe(6);
        expect((await netnsNames()).filter((name) => name.startsWith(prefix))).toEqual([]);
        expect(processesIn(run.namespaces.values())).toEqual([]);
        // Nothing half-written where the captures would go.
        expect(readdirSync(outDir)).toEqual([]);
      } finally {
        rmSync(outDir, { recursive: true, force: true });
      }
    },
    LAB_TIMEOUT,
  );
});
