/**
 * Nothing lost, nothing twice (DESIGN.md, "Durable outbox"): while new hosts keep appearing on
 * the lab bridge, the collector is killed (SIGKILL), kept down for 10 s and restarted; then the
 * agent is killed and restarted. Every binding the agent saw is stored exactly once — no batch
 * lost with the collector's crash or the agent's, none stored twice when they are sent again.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, schema } from '@ipwarden/collector';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import {
  agentConnected,
  CollectorProcess,
  type DiscoveryRow,
  startLabAgent,
  until,
} from './support/collector-process.js';
import { NetnsLab, UPLINK_COLLECTOR_IP } from './support/netns-lab.js';
import { type PostgresServer, startPostgres } from './support/postgres-server.js';
import { stopAll, type TestProcess } from './support/processes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Frames sent this close to the agent's death or rebirth may or may not have been seen. */
const EDGE_MS = 300;

describe.each([
  ['the embedded database', 'n', false],
  ['PostgreSQL', 'm', true],
])('on %s', (_, tag, postgres) => {
  let pg: PostgresServer | undefined;
  let lab: NetnsLab | undefined;
  let collector: CollectorProcess | undefined;

  afterAll(async () => {
    await lab?.destroy();
    await collector?.stop('SIGKILL');
    await stopAll();
    pg?.stop();
  }, 60_000);

  it('stores every binding exactly once across a collector crash and an agent crash', async () => {
    if (postgres) pg = startPostgres();
    lab = await NetnsLab.create(`iwd-${process.pid}${tag}-`, 1);
    const [host] = lab.hosts;
    collector = new CollectorProcess(UPLINK_COLLECTOR_IP, pg?.url);
    await collector.start();
    const stateDir = mkdtempSync(join(tmpdir(), 'ipwarden-agent-'));
    const startAgent = () => startLabAgent(lab!, collector!.url, 'crash-agent', stateDir);
    const connected = () => agentConnected(collector!, 'crash-agent');
    let agent: TestProcess = startAgent();
    await connected();
    await agent.waitFor(/capture opened on br0/);

    // New hosts, one every few tens of milliseconds, each a new address with a new MAC; the log
    // says what was sent when (ms since the epoch, IP, MAC).
    const log = join(mkdtempSync(join(tmpdir(), 'ipwarden-hosts-')), 'sent.log');
    const generator = lab.spawn(host!, 'hosts', 'bash', [
      '-c',
      `i=0; while :; do i=$((i+1)); ip=10.99.$((1 + i / 250)).$((i % 250 + 1));
        mac=02:00:$(printf '%02x:%02x:%02x:%02x' $((i>>24&255)) $((i>>16&255)) $((i>>8&255)) $((i&255)));
        echo "$(date +%s%3N) $ip $mac" >>"$1";
        arping -q -c 1 -w 0.02 -i lab0 -U -S $ip -s $mac $ip; done`,
      'hosts',
      log,
    ]);

    await sleep(3_000);
    await collector.stop('SIGKILL');
    await sleep(10_000);
    await collector.start();
    await connected();
    await sleep(3_000);
    await agent.stop('SIGKILL');
    const agentKilled = Date.now();
    agent = startAgent();
    await connected();
    const agentBack = Date.now() + 500;
    await sleep(3_000);
    await generator.stop('SIGKILL');

    const sent = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
      .map(([at, ip, mac]) => ({ at: Number(at), ip: ip!, mac: mac! }));
    const expected = sent.filter(({ at }) => at < agentKilled - EDGE_MS || at > agentBack + EDGE_MS);
    // Enough hosts to mean something, however slowly a loaded machine runs the shell loop (a
    // busy CI run once made exactly 200).
    expect(expected.length).toBeGreaterThan(100);
    const last = expected.at(-1)!;
    await until(
      async () => {
        const { body } = await collector!.api<{ items: DiscoveryRow[] }>(`/discoveries?ip=${last.ip}`);
        return body.items[0];
      },
      15_000,
      'the last host stored',
    );
    await sleep(1_000); // the agent's last batches
    await agent.stop('SIGTERM');
    await collector.stop('SIGTERM');

    // The collector is down: its database, embedded or not, can be opened and counted directly.
    const database = await openDatabase(pg === undefined ? { dataDir: collector.dataDir } : { url: pg.url });
    try {
      const rows = await database.db
        .select({
          ip: sql<string>`host(${schema.sightingEvents.ip})`,
          mac: sql<string>`${schema.sightingEvents.mac}::text`,
          event: schema.sightingEvents.event,
          copies: sql<number>`count(*)::int`,
        })
        .from(schema.sightingEvents)
        .groupBy(schema.sightingEvents.ip, schema.sightingEvents.mac, schema.sightingEvents.event);
      const stored = new Map(rows.map((row) => [`${row.ip} ${row.mac}`, row]));
      const sentPairs = new Set(sent.map(({ ip, mac }) => `${ip} ${mac}`));
      const missing = expected.filter(({ ip, mac }) => !stored.has(`${ip} ${mac}`));
      const twice = rows.filter((row) => row.copies !== 1);
      const unknown = rows.filter((row) => !sentPairs.has(`${row.ip} ${row.mac}`));
      expect({ missing, twice, unknown }).toEqual({ missing: [], twice: [], unknown: [] });
      expect(rows.every((row) => row.event === 'new')).toBe(true);
    } finally {
      await database.close();
    }
  }, 120_000);
});
