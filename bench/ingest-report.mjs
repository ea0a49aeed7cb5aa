/**
 * bench:ingest's report (ingest.mjs), once its phases have run: the setup, a table of the phases,
 * reconciliation, the reference, the latencies, and whether each target was met.
 */
import { cpus } from 'node:os';
import { AGENT_PATH } from '@ipwarden/protocol';
import * as knob from './ingest-config.mjs';
import { fmt, median } from './support.mjs';

const TARGET_RATE = 50_000;
const TARGET_RATIO = 0.8;
const TARGET_P99_MS = 100;
const TARGET_CONFLICT_P99_MS = 1000;
/** The background counts as the load asked for when this share of it was stored meanwhile (pacing is not exact). */
const LOAD_KEPT = 0.97;

export const totalOf = (byKind) => Object.values(byKind).reduce((x, y) => x + y, 0);

/**
 * Prints the report: `stack` as started (support.mjs `startStack`); `plan`, how long the subnets
 * and the allocations took to make, and how many were made; `measured`, what the phases found.
 */
export function report(
  { version, settings, fsType },
  { planSeconds, allocated, runs, fillSeconds, bindingsPerAgent },
  { rounds, latency, latencyNote, load, loadNote, ref, refFk },
) {
  const cores = cpus().length;
  const line = (text = '') => console.log(text);
  const phases = rounds.flatMap((r) => [r.off, r.on]);
  line(
    `\nbench:ingest — the collector on PostgreSQL; ${cores} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}`,
  );
  line(`PostgreSQL ${version}, cluster on ${fsType}: ${settings}`);
  line(
    `plan: ${2 * knob.AGENTS + 1} subnets (per agent a /16 and a /64 on its VLAN, each with a gateway and a dynamic range; the lab's /16) through the API in ${planSeconds.toFixed(1)} s;`,
  );
  line(
    `      ${fmt(allocated)} addresses allocated in SQL (${fmt(runs)} taken runs) in ${fillSeconds.toFixed(1)} s, with VACUUM ANALYZE: the first ${fmt(bindingsPerAgent)} bindings of each agent but those`,
  );
  line(
    '      in the dynamic ranges (10%) and 0.5% left unallocated; 0.5% allocated to a MAC never seen. Moves only in dynamic ranges, one in ten back (a duplicate)',
  );
  line(
    `load: ${knob.AGENTS} agents, each a WebSocket to ${AGENT_PATH} with its own token, ${knob.WINDOW} unacked batches at most per agent; ${knob.SECONDS} s per phase at most, the first ${knob.WARMUP_SECONDS} s not counted`,
  );
  line(
    '      items 85% new, 10% refresh, 5% moved; 75% IPv4 (ARP, DHCP ACK, mDNS), 25% IPv6 (NDP, mDNS); JSON made beforehand',
  );
  line(
    '      each phase on empty bindings / sighting_events / conflicts / events and a collector of its own (--reconcile off or on); the load generator runs on the same cores (its CPU is shown)',
  );
  line('');
  line(
    '  phase            batch  sightings/s   acked (batches)   rows stored: bindings / events   ack wait p50 / p99 │ CPU core-s: collector  postgres  bench  rest  stolen │ µs/sighting: collector  postgres',
  );
  const phaseLine = (p, name) => {
    const per = (cpuSeconds) => ((cpuSeconds * 1e6) / p.counted).toFixed(0);
    const rest = p.cpu.busy - p.cpu.collector - p.cpu.postgres - p.cpu.bench - p.cpu.lab;
    line(
      `  ${name.padEnd(15)} ${String(p.batchSize).padStart(6)} ${fmt(p.rate).padStart(12)}   ${`${fmt(p.ackedItems)} (${fmt(p.ackedBatches)})`.padEnd(16)} ${`${fmt(p.stored.bindings)} / ${fmt(p.stored.events)} ${p.verified ? 'ok' : 'DIFFER'}`.padStart(32)}   ${`${fmt(p.ackP50)} / ${fmt(p.ackP99)} ms`.padStart(18)} │ ${p.cpu.collector.toFixed(1).padStart(20)} ${p.cpu.postgres.toFixed(1).padStart(9)} ${p.cpu.bench.toFixed(1).padStart(6)} ${rest.toFixed(1).padStart(5)} ${p.cpu.steal.toFixed(1).padStart(7)} │ ${per(p.cpu.collector).padStart(22)} ${per(p.cpu.postgres).padStart(9)}`,
    );
    if (!p.verified) {
      line(
        `         expected ${fmt(p.expected.bindings)} bindings / ${fmt(p.expected.events)} events: the batches up to each agent's stored last_seq`,
      );
    }
  };
  for (const r of rounds) {
    phaseLine(r.off, `round ${r.r}, off`);
    phaseLine(r.on, `round ${r.r}, on`);
  }
  if (load !== undefined) phaseLine(load, 'under load, on');
  if (load !== undefined)
    line(
      `         Under load, the lab's \`ipwarden-agent run\` used ${load.cpu.lab.toFixed(1)} core-s (not in "rest").`,
    );
  line(
    `         CPU and µs per sighting from the end of the warm-up to the end of the phase (${cores} core-s available per second); "rest": kernel and other processes.`,
  );
  line(
    '         Ack wait = send → ack, mostly queueing at saturation. Acked includes the warm-up; rows stored include batches committed after the phase ended.',
  );
  line(
    '\nreconciliation, each "on" phase (judged after the ack, in rounds; lag = stored → judged, /metrics histogram bounds):',
  );
  const bucket = (ms) => (ms === Number.POSITIVE_INFINITY ? '> 10 s' : `≤ ${fmt(ms)} ms`);
  const judgingLine = (p, name) => {
    const { atEnd, caughtUp, lag, dropped } = p.reconcile;
    const kinds = Object.entries(p.conflicts)
      .map(([k, n]) => `${k} ${fmt(n)}`)
      .join(', ');
    line(
      `  ${name.padEnd(15)} conflicts opened ${fmt(totalOf(p.conflicts)).padStart(6)} (${kinds || 'none'}); at the last ack ${fmt(atEnd.behind)} of ${fmt(atEnd.stored)} stored unjudged, ${caughtUp === undefined ? `NOT caught up ${knob.CATCH_UP_SECONDS} s later` : `caught up ${caughtUp.toFixed(1)} s later`}; allocations read in ${p.warmSeconds?.toFixed(1)} s before the phase; lag p50 ${bucket(lag.p50)}, p99 ${bucket(lag.p99)}, mean ${lag.mean?.toFixed(0)} ms; dropped ${fmt(dropped)}; watch lists sent ${fmt(p.config.messages)} (${(p.config.bytes / 1e6).toFixed(0)} MB)`,
    );
  };
  for (const r of rounds) judgingLine(r.on, `round ${r.r}, on`);
  if (load !== undefined) judgingLine(load, 'under load, on');
  const offConflicts = rounds.reduce((sum, r) => sum + totalOf(r.off.conflicts), 0);
  line(`  (the "off" phases opened ${fmt(offConflicts)} conflicts)`);
  line('\nreconciliation on / off, each round (the phases seconds apart):');
  for (const size of knob.BATCHES) {
    const ofSize = rounds.filter((r) => r.size === size);
    line(
      `  batch ${size}: ${ofSize.map((r) => `round ${r.r} ${fmt(r.on.rate)} / ${fmt(r.off.rate)} = ${r.ratio.toFixed(2)}`).join('; ')}; median ratio ${median(ofSize.map((r) => r.ratio)).toFixed(2)}`,
    );
  }
  line(
    `\nreference, same server, no collector: INSERT … SELECT generate_series of ${fmt(ref.rows)} rows into copies of sighting_events and bindings (same indexes and fillfactor), one transaction, one backend:`,
  );
  line(
    `  ${fmt(ref.rate)} sightings/s without foreign keys, ${fmt(refFk.rate)} sightings/s with the agent_id foreign keys`,
  );

  if (latency !== undefined) {
    line(
      `\nframe → row: ${latency.probes} gratuitous ARP announcements (a new IP and MAC each, one every ${knob.PROBE_GAP_MS} ms) sent in a namespace, captured on the veth by \`ipwarden-agent run\`;`,
    );
    line(
      `  GET /api/v1/discoveries?ip= polled every ~1 ms per address in flight (${fmt(latency.pollRate)} requests/s)`,
    );
    line(
      `  seen ${latency.seen}/${latency.probes}: min ${latency.min?.toFixed(1)} ms, p50 ${latency.p50?.toFixed(1)} ms, p99 ${latency.p99?.toFixed(1)} ms, max ${latency.max?.toFixed(1)} ms`,
    );
    if (latency.missing.length > 0) line(`  not seen within 10 s: ${latency.missing.slice(0, 10).join(', ')}`);
    const { store, cpu } = latency;
    line(
      `  the collector's part (its /metrics histogram, arrival → ack): ${store.count} batches for ${store.sightings} sightings, mean ${store.mean?.toFixed(1)} ms, p50 ≤ ${store.p50} ms, p99 ≤ ${store.p99} ms`,
    );
    const rest = cpu.busy - cpu.collector - cpu.postgres - cpu.bench - cpu.agent;
    line(
      `  CPU core-s over those ${cpu.seconds.toFixed(1)} s: agent ${cpu.agent.toFixed(2)}, collector ${cpu.collector.toFixed(2)}, postgres ${cpu.postgres.toFixed(2)}, bench ${cpu.bench.toFixed(2)}, rest of machine ${rest.toFixed(2)}, stolen ${cpu.steal.toFixed(2)}`,
    );
  } else {
    line(`\nframe → row: ${latencyNote}`);
  }
  if (load !== undefined) {
    const d = load.during;
    line(
      `\nframe → conflict under load: ${knob.OFFENDERS} gratuitous ARP announcements from fresh unallocated addresses of 10.99.0.0/16, one every ${knob.OFFENDER_GAP_MS} ms, captured by \`ipwarden-agent run\`,`,
    );
    line(
      `  while the ${knob.AGENTS} agents stream at ${fmt(knob.LOAD_RATE)} sightings/s (paced, batches of ${knob.AGENT_BATCH}): ${fmt(load.backgroundRate)} sightings/s stored and acked meanwhile;`,
    );
    line(
      `  each timed to its conflict.opened on GET /api/v1/events?types=conflict.opened; ${d.listed} of them then found in GET /conflicts?ip=&status=open`,
    );
    line(
      `  seen ${d.seen}/${d.count}: min ${d.min?.toFixed(0) ?? '—'} ms, p50 ${d.p50?.toFixed(0) ?? '—'} ms, p99 ${d.p99?.toFixed(0) ?? '—'} ms, max ${d.max?.toFixed(0) ?? '—'} ms`,
    );
    if (d.missing.length > 0) line(`  not seen within 10 s: ${d.missing.slice(0, 10).join(', ')}`);
  } else {
    line(`\nframe → conflict under load: ${loadNote}`);
  }
  if (knob.PROFILE) {
    for (const p of [...phases, ...(load === undefined ? [] : [load])]) {
      line(`\nPostgreSQL, ${p.label}: top statements (total | calls | mean | query)\n${p.statements}`);
      line(`\ncollector CPU profile, ${p.label} (${p.profileDir}):\n${p.profile}`);
    }
  }

  line('');
  let ok = true;
  // Judged at the agent's own batch size, which its batching reaches under load (uplink.ts,
  // BUSY_IN_FLIGHT), on the median round.
  const judgedSize = knob.BATCHES.includes(knob.AGENT_BATCH) ? knob.AGENT_BATCH : knob.BATCHES[0];
  const judged = rounds.filter((r) => r.size === judgedSize);
  const onRate = median(judged.map((r) => r.on.rate));
  const ratio = median(judged.map((r) => r.ratio));
  const rateMet = onRate >= TARGET_RATE;
  ok &&= rateMet;
  line(
    `≥ ${fmt(TARGET_RATE)} sightings/s stored with ${knob.AGENTS} agents, reconciliation on: ${rateMet ? 'met' : 'NOT met'} at batch ${judgedSize} (median of ${judged.length}: ${fmt(onRate)}/s)`,
  );
  const ratioMet = ratio >= TARGET_RATIO;
  ok &&= ratioMet;
  line(
    `reconciliation on ≥ ${TARGET_RATIO * 100}% of off: ${ratioMet ? 'met' : 'NOT met'} (median round ${ratio.toFixed(2)}; rounds ${judged.map((r) => r.ratio.toFixed(2)).join(', ')})`,
  );
  // Kept up: at the last ack no more than a round (MAX_ROUND in reconciler.ts, 20,000) unjudged, nothing dropped.
  const keptUp = judged.every((r) => r.on.reconcile.atEnd.behind <= 20_000 && r.on.reconcile.dropped === 0);
  line(
    `reconciliation kept up (at the last ack at most a round of 20,000 unjudged, nothing dropped): ${keptUp ? 'yes' : 'NO'} (${judged.map((r) => `${fmt(r.on.reconcile.atEnd.behind)} unjudged at the end`).join(', ')})`,
  );
  const verified = [...phases, ...(load === undefined ? [] : [load])].every((p) => p.verified);
  ok &&= verified;
  line(`rows in PostgreSQL = the batches stored, every acked batch among them: ${verified ? 'yes' : 'NO'}`);
  if (latency === undefined) {
    ok = false;
    line(`p99 frame → row < ${TARGET_P99_MS} ms at light load: ${latencyNote}`);
  } else {
    const latencyMet = latency.seen === latency.probes && latency.p99 < TARGET_P99_MS;
    ok &&= latencyMet;
    line(
      `p99 frame → row < ${TARGET_P99_MS} ms at light load: ${latencyMet ? 'met' : 'NOT met'} (p99 ${latency.p99?.toFixed(1)} ms, ${latency.seen}/${latency.probes} seen)`,
    );
  }
  if (load === undefined) {
    ok = false;
    line(`p99 frame → conflict < ${TARGET_CONFLICT_P99_MS} ms under ${fmt(knob.LOAD_RATE)} sightings/s: ${loadNote}`);
  } else {
    const d = load.during;
    // Under the load asked for: what the collector stored meanwhile, not only what was sent.
    const loadMet = load.backgroundRate >= knob.LOAD_RATE * LOAD_KEPT;
    const conflictMet = d.seen === d.count && d.listed === d.count && d.p99 < TARGET_CONFLICT_P99_MS && loadMet;
    ok &&= conflictMet;
    line(
      `p99 frame → conflict < ${TARGET_CONFLICT_P99_MS} ms under ${fmt(knob.LOAD_RATE)} sightings/s: ${conflictMet ? 'met' : 'NOT met'} (p99 ${d.p99?.toFixed(0)} ms, ${d.seen}/${d.count} seen, background ${fmt(load.backgroundRate)}/s stored${loadMet ? '' : `, under ${LOAD_KEPT * 100}% of the load`})`,
    );
  }
  line(ok ? '\ntargets met' : '\ntargets NOT met');
}
