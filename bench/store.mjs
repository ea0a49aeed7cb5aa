#!/usr/bin/env node
/**
 * `pnpm bench:store`: PostgreSQL's CPU a sighting in `storeBatch` alone — no collector process,
 * no reconciliation, no WebSockets — for the schema as migrated beside variants of it, side by
 * side on one server in one run, so that a change to the tables or the statement is measured
 * apart from the rest of bench:ingest and from this VM's swings (a third from run to run).
 *
 * Each variant, in turn, three rounds: `bindings` and `sighting_events` made anew from the
 * migrated ones (same columns, defaults and indexes), the variant's SQL run on them, then 100
 * agents' batches of 1000 (bench:ingest's generator: 85% new, 10% refresh, 5% moved) stored two
 * at a time, as the collector stores them. Reported: the median PostgreSQL CPU µs a sighting of
 * the three rounds (server processes, from /proc), and this process's.
 *
 * BENCH_STORE_VARIANTS: a JSON object, variant name → SQL statements (the default compares the
 * tables as migrated with the history's id of before migration 0015, and with bindings' pages
 * filled as before 0016).
 */
import { openDatabase, registerAgent, storeBatch } from '@ipwarden/collector';
import { decodeAgentMessage } from '@ipwarden/protocol';
import { SyntheticAgent } from './ingest-load.mjs';
import { cpuOf, fmt, median, run, say, startPostgres, storageOf } from './support.mjs';

const AGENTS = 100;
const BATCH = 1000;
const PER_AGENT = Number(process.env.BENCH_STORE_BATCHES ?? 12); // 1.2M sightings a round
const AT_ONCE = 2; // STORING_AT_ONCE, collector/src/ingest/store-gate.ts
const ROUNDS = 3;
const VARIANTS = JSON.parse(
  process.env.BENCH_STORE_VARIANTS ??
    JSON.stringify({
      'as migrated': [],
      'history with an id primary key (before 0015)': [
        'alter table sighting_events add column id bigserial primary key',
      ],
      'bindings with full pages (before 0016)': ['alter table bindings reset (fillfactor)'],
    }),
);

await run(async () => {
  say('starting PostgreSQL');
  const pg = await startPostgres();
  const handle = await openDatabase({ url: pg.url });
  try {
    const ids = [];
    for (let a = 0; a < AGENTS; a++) ids.push((await registerAgent(handle.db, `bench-${a}`)).id);
    pg.psql(
      'create table bindings_migrated (like bindings including all)',
      'create table sighting_events_migrated (like sighting_events including all)',
    );
    const storage = ['bindings', 'sighting_events'].flatMap((table) => storageOf(pg, table));
    const agents = ids.map((_, a) => new SyntheticAgent(a));
    const results = new Map(Object.keys(VARIANTS).map((name) => [name, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, statements] of Object.entries(VARIANTS)) {
        pg.psql(
          'drop table bindings, sighting_events',
          'create table bindings (like bindings_migrated including all)',
          'create table sighting_events (like sighting_events_migrated including all)',
          ...storage,
          'update agents set last_seq = 0',
          ...statements,
          'vacuum analyze',
          'checkpoint',
        );
        const batches = [];
        for (const agent of agents) {
          agent.restart();
          agent.seq = 0;
        }
        for (let k = 0; k < PER_AGENT; k++) {
          for (let a = 0; a < AGENTS; a++) {
            const decoded = decodeAgentMessage(agents[a].batch(BATCH).bytes.toString());
            if (!decoded.ok) throw new Error(decoded.detail);
            batches.push([ids[a], decoded.message.seq, decoded.message.items]);
          }
        }
        const pgBefore = cpuOf(pg.postmaster, true);
        const selfBefore = process.cpuUsage();
        const t0 = performance.now();
        let next = 0;
        let sightings = 0;
        await Promise.all(
          Array.from({ length: AT_ONCE }, async () => {
            while (next < batches.length) {
              const [id, seq, items] = batches[next++];
              await storeBatch(handle.db, id, seq, items);
              sightings += items.length;
            }
          }),
        );
        const seconds = (performance.now() - t0) / 1000;
        const self = process.cpuUsage(selfBefore);
        const result = {
          rate: sightings / seconds,
          postgres: ((cpuOf(pg.postmaster, true) - pgBefore) / sightings) * 1e6,
          client: (self.user + self.system) / sightings,
        };
        results.get(name).push(result);
        say(
          `round ${round}, ${name}: ${fmt(result.rate)} sightings/s, PostgreSQL ${result.postgres.toFixed(1)} µs, client ${result.client.toFixed(1)} µs a sighting`,
        );
      }
    }
    console.log(
      `bench:store — storeBatch on PostgreSQL ${pg.psql('show server_version').replace(/ \(.*/, '')}, ${AGENTS} agents × ${PER_AGENT} batches of ${BATCH}, ${AT_ONCE} at a time; medians of ${ROUNDS} rounds, variants in turn`,
    );
    for (const [name, rounds] of results) {
      console.log(
        `  ${name.padEnd(48)} PostgreSQL ${median(rounds.map((r) => r.postgres)).toFixed(1)} µs a sighting (rounds ${rounds.map((r) => r.postgres.toFixed(1)).join(', ')}); ${fmt(median(rounds.map((r) => r.rate)))} sightings/s`,
      );
    }
  } finally {
    await handle.close();
  }
});
