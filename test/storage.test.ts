/**
 * The collector's storage, one conformance suite run against both targets: the embedded PGlite
 * and a real PostgreSQL 15 server this test starts itself. Same schema, same migrations.
 */
import { type DatabaseHandle, openDatabase, schema, storeBatch } from '@ipwarden/collector';
import { MAX_BATCH_ITEMS } from '@ipwarden/protocol';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from './support/postgres-server.js';
import { sighting, T0 } from './support/sightings.js';

let server: PostgresServer | undefined;
afterAll(() => server?.stop());

describe.each([
  ['PGlite', async () => openDatabase({})],
  [
    'PostgreSQL',
    async () => {
      server = startPostgres();
      return openDatabase({ url: server.url });
    },
  ],
])('storage on %s', (_, open) => {
  let handle: DatabaseHandle;
  let agentId: string;
  let otherAgentId: string;

  beforeAll(async () => {
    handle = await open();
    const [a, b] = await handle.db
      .insert(schema.agents)
      .values([
        { name: 'rack-1', tokenHash: 'h1' },
        { name: 'rack-2', tokenHash: 'h2' },
      ])
      .returning({ id: schema.agents.id });
    agentId = a!.id;
    otherAgentId = b!.id;
  }, 60_000);

  afterAll(async () => handle?.close());

  const count = async (table: typeof schema.bindings | typeof schema.sightingEvents) =>
    Number((await handle.db.select({ n: sql<number>`count(*)` }).from(table))[0]!.n);

  it('stores a batch: bindings upserted, changes kept as history', async () => {
    const batch = [
      sighting(),
      sighting({ ip: 'fd99::7', source: 'ndp', at: T0 + 5 }),
      sighting({ at: T0 + 10, source: 'mdns', event: 'refresh', hostname: 'node-7' }),
      sighting({ kind: 'probe', ip: '10.99.0.8', event: 'new' }),
    ];
    expect(await storeBatch(handle.db, agentId, 1, batch)).toEqual({ stored: true });
    const rows = await handle.db.select().from(schema.bindings).orderBy(schema.bindings.ip);
    expect(rows.map((r) => [r.ip, r.mac, r.sources, r.hostnames])).toEqual([
      ['10.99.0.7', '02:00:00:00:00:07', ['arp', 'mdns'], ['node-7']],
      ['fd99::7', '02:00:00:00:00:07', ['ndp'], []],
    ]);
    expect(rows[0]!.firstSeen.getTime()).toBe(T0);
    expect(rows[0]!.lastSeen.getTime()).toBe(T0 + 10);
    expect(await count(schema.sightingEvents)).toBe(3); // the refresh of a binding is not history
  });

  it('takes a replayed batch (same agent, same seq) as stored, and stores nothing', async () => {
    const before = [await count(schema.bindings), await count(schema.sightingEvents)];
    expect(await storeBatch(handle.db, agentId, 1, [sighting({ ip: '10.99.0.99', mac: '02:00:00:00:00:99' })])).toEqual(
      {
        stored: false,
      },
    );
    expect([await count(schema.bindings), await count(schema.sightingEvents)]).toEqual(before);
  });

  it('keeps each agent to its own seqs', async () => {
    expect(
      await storeBatch(handle.db, otherAgentId, 1, [sighting({ ip: '10.99.0.20', mac: '02:00:00:00:00:20' })]),
    ).toEqual({
      stored: true,
    });
    const [agent] = await handle.db.select().from(schema.agents).where(eq(schema.agents.id, otherAgentId));
    expect(agent!.lastSeq).toBe(1);
  });

  it('merges a later batch into the bindings it knows: sources, names, last seen', async () => {
    await storeBatch(handle.db, agentId, 2, [
      sighting({
        at: T0 + 600_000,
        event: 'refresh',
        source: 'dhcp',
        kind: 'dhcp-lease',
        hostname: 'node-7b',
        interface: 'eth1',
        detail: { messageType: 'ack' },
      }),
    ]);
    const [row] = await handle.db.select().from(schema.bindings).where(eq(schema.bindings.ip, '10.99.0.7'));
    expect(row).toMatchObject({
      sources: ['arp', 'dhcp', 'mdns'],
      hostnames: ['node-7b', 'node-7'],
      interface: 'eth1',
    });
    expect(row!.lastSeen.getTime()).toBe(T0 + 600_000);
  });

  it('keeps the sixteen newest names of a binding, however many a host announces', async () => {
    const names = Array.from({ length: 40 }, (_, i) =>
      sighting({ ip: '10.99.0.30', mac: '02:00:00:00:00:30', source: 'mdns', hostname: `name-${i}`, at: T0 + i }),
    );
    await storeBatch(handle.db, agentId, 4, names.slice(0, 20));
    await storeBatch(handle.db, agentId, 5, names.slice(20));
    const [row] = await handle.db.select().from(schema.bindings).where(eq(schema.bindings.ip, '10.99.0.30'));
    expect(row!.hostnames).toEqual(Array.from({ length: 16 }, (_, i) => `name-${39 - i}`));
  });

  it('stores any text a frame can carry as it came: quotes, backslashes, braces, commas, "NULL", emoji', async () => {
    const names = ['a"b', 'back\\slash\\', '{braces}', 'with, comma', 'NULL', '', ' spaced ', 'é💡'];
    const items = names.map((hostname, i) =>
      sighting({ ip: `10.99.1.${i}`, mac: '02:00:00:00:01:00', source: 'mdns', hostname, interface: `if"${hostname}` }),
    );
    expect(await storeBatch(handle.db, agentId, 7, items)).toEqual({ stored: true });
    const rows = await handle.db
      .select()
      .from(schema.bindings)
      .where(sql`${schema.bindings.ip} <<= '10.99.1.0/24'`)
      .orderBy(schema.bindings.ip);
    expect(rows.map((r) => [r.hostnames, r.interface])).toEqual(names.map((n) => [[n], `if"${n}`]));
    const events = await handle.db
      .select({ hostname: schema.sightingEvents.hostname, previousMac: schema.sightingEvents.previousMac })
      .from(schema.sightingEvents)
      .where(sql`${schema.sightingEvents.ip} <<= '10.99.1.0/24'`)
      .orderBy(schema.sightingEvents.ip);
    expect(events).toEqual(names.map((hostname) => ({ hostname, previousMac: null })));
  });

  it('stores a batch of the largest size the protocol allows', async () => {
    const items = Array.from({ length: MAX_BATCH_ITEMS }, (_, i) =>
      sighting({
        ip: `10.98.${i >> 8}.${i & 255}`,
        mac: `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
      }),
    );
    const before = await count(schema.bindings);
    expect(await storeBatch(handle.db, agentId, 8, items)).toEqual({ stored: true });
    expect(await count(schema.bindings)).toBe(before + MAX_BATCH_ITEMS);
  });
});

describe('migrations on PostgreSQL', () => {
  it('are applied once when collectors start on a new database at the same moment', async () => {
    server ??= startPostgres();
    const admin = await openDatabase({ url: server.url });
    await admin.db.execute(sql`create database racing`);
    const url = server.url.replace(/\/postgres$/, '/racing');
    // Four replicas of a new release, started together (a Deployment's rollout, a compose up).
    const handles = await Promise.all(Array.from({ length: 4 }, () => openDatabase({ url })));
    const [first] = handles;
    const applied = await first!.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    const expected = await admin.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    expect(applied).toEqual(expected);
    await Promise.all([...handles, admin].map((h) => h.close()));
  }, 60_000);
});
