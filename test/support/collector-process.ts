/**
 * The collector as a real process (`ipwarden-collector`), on the embedded database or a
 * PostgreSQL server, restartable on the same port and data, plus a small API client.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ADMIN_TOKEN, AGENT_SECRET } from './collector.js';
import type { NetnsLab } from './netns-lab.js';
import { agentBin, repoRoot } from './paths.js';
import { TestProcess } from './processes.js';

export const collectorBin = resolve(repoRoot, 'collector', 'bin', 'ipwarden-collector.js');

export class CollectorProcess {
  process: TestProcess | undefined;
  url = '';
  readonly dataDir = mkdtempSync(join(tmpdir(), 'ipwarden-collector-'));

  constructor(
    private readonly host: string,
    private readonly databaseUrl: string | undefined,
    private readonly extraArgs: string[] = [],
  ) {}

  /** Starts it (again): the first start picks a free port, later ones reuse it. */
  async start(): Promise<void> {
    const port = this.url === '' ? 0 : Number(new URL(this.url).port);
    const listen = this.host.includes(':') ? `[${this.host}]:${port}` : `${this.host}:${port}`;
    this.process = new TestProcess(
      'collector',
      process.execPath,
      [collectorBin, '--listen', listen, '--data-dir', this.dataDir, ...this.extraArgs],
      {
        DATABASE_URL: this.databaseUrl,
        IPWARDEN_ADMIN_TOKEN: ADMIN_TOKEN,
        IPWARDEN_AGENT_SECRET: AGENT_SECRET,
        IPWARDEN_LOG_LEVEL: 'warn',
      },
    );
    const [, url] = await this.process.waitFor(/listening on (https?:\/\/\S+)/, 60_000);
    this.url = url!;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.process?.stop(signal);
  }

  /** GET (or another method) on /api/v1 with the admin token; the parsed body and status. */
  async api<T = unknown>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.url}/api/v1${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(init.body !== undefined && { 'content-type': 'application/json' }),
        ...init.headers,
      },
    });
    const text = await response.text();
    return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
  }
}

export type { Discovery as DiscoveryRow } from '@ipwarden/collector';
export { ADMIN_TOKEN, AGENT_SECRET };

/**
 * `ipwarden-agent run` inside the lab's bridge namespace, capturing on br0 and enrolling with
 * the secret under `name`; `wrapper` (a command and its arguments, such as setpriv's) runs it;
 * `extra` are more of its options.
 */
export function startLabAgent(
  lab: NetnsLab,
  collectorUrl: string,
  name: string,
  stateDir: string,
  wrapper: string[] = [],
  extra: string[] = [],
): TestProcess {
  const agent = [process.execPath, agentBin, 'run', '--collector', collectorUrl, '--secret', AGENT_SECRET];
  const [command, ...args] = [
    ...wrapper,
    ...agent,
    '--interface',
    'br0',
    '--state-dir',
    stateDir,
    '--name',
    name,
    ...extra,
  ];
  return lab.spawn(lab.bridge, name, command!, args);
}

/** Resolves once the agent called `name` is connected to the collector. */
export function agentConnected(collector: CollectorProcess, name: string, timeoutMs = 30_000) {
  return until(
    async () => {
      const { body } = await collector.api<{ items: { name: string; connected: boolean }[] }>('/agents');
      return body.items.find((a) => a.name === name && a.connected);
    },
    timeoutMs,
    `agent ${name} connected`,
  );
}

/** Polls `check` every 10 ms until it returns a value; that value and how long it took. */
export async function until<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  for (;;) {
    const value = await check();
    if (value !== undefined) return { value, ms: performance.now() - start };
    if (performance.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
