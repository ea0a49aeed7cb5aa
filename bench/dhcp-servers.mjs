/**
 * bench:dhcp's real servers: a real dnsmasq and a real Kea (its hosts database on the bench's
 * PostgreSQL, reached by its Unix socket), each run by the agent's own applier (agent/dist/dhcp)
 * in a network namespace of the bench's, serving a 10,000-host map with a lease held for every
 * host — a rack in production — while a client namespace sends a steady stream of DISCOVERs from
 * those hosts (bench/dhcp-requests.mjs). Then changes, one at a time, of the three kinds a rack
 * sees: a host added, a host moved to a free address, a host released. Measured, per server:
 *
 * - take-up: from the applier being handed the change to the first OFFER that says it;
 * - of the stream's requests, how many got no OFFER at all, and how late the answered ones came,
 *   over the whole run and within the moments changes were being taken up.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsmasqApplier } from '../agent/dist/dhcp/dnsmasq-applier.js';
import { KeaApplier } from '../agent/dist/dhcp/kea-applier.js';
import { keaSubnetId } from '../agent/dist/dhcp/kea-config.js';
import { now, root, say, sleep, undo } from './support.mjs';

const SERVER_NS = `iwb-${process.pid}-srv`;
const CLIENT_NS = `iwb-${process.pid}-cli`;
const CIDR = '10.99.0.0/16';
const LEASE_SECONDS = 43_200; // 12 h
const SUBNET = {
  cidr: CIDR,
  gateway: '10.99.0.1',
  dnsServers: ['10.99.0.53'],
  leaseSeconds: LEASE_SECONDS,
  dynamicRanges: [{ start: '10.99.200.0', end: '10.99.250.255' }],
};
/** How long after a change is taken up its moment lasts, for the requests counted in it. */
const SETTLE_MS = 500;
const KINDS = ['add', 'move', 'release'];

const hex = (b) => b.toString(16).padStart(2, '0');
const macOf = (n, tag = 0) => `02:bd:${hex(tag)}:${hex((n >> 16) & 255)}:${hex((n >> 8) & 255)}:${hex(n & 255)}`;
/** Host n's address: 10.99.1.0 on. */
const ipOf = (n) => `10.99.${1 + (n >> 8)}.${n & 255}`;
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;

function netns() {
  const ip = (...args) => execFileSync('ip', args, { stdio: 'pipe' });
  undo.push(() => {
    for (const ns of [SERVER_NS, CLIENT_NS]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // not made
      }
    }
  });
  ip('netns', 'add', SERVER_NS);
  ip('netns', 'add', CLIENT_NS);
  ip('-n', SERVER_NS, 'link', 'add', 'bsrv0', 'type', 'veth', 'peer', 'name', 'bcli0', 'netns', CLIENT_NS);
  ip('-n', SERVER_NS, 'addr', 'add', '10.99.0.2/16', 'dev', 'bsrv0');
  ip('-n', CLIENT_NS, 'addr', 'add', '10.99.255.250/16', 'dev', 'bcli0');
  for (const [ns, link] of [
    [SERVER_NS, 'bsrv0'],
    [SERVER_NS, 'lo'],
    [CLIENT_NS, 'bcli0'],
    [CLIENT_NS, 'lo'],
  ]) {
    ip('-n', ns, 'link', 'set', link, 'up');
  }
  // DISCOVERs go to 255.255.255.255: a route to it, in the client's namespace only.
  ip('-n', CLIENT_NS, 'route', 'add', 'default', 'dev', 'bcli0');
}

/** A lease for every host, as a rack's server holds them: dnsmasq's lease file, Kea's memfile CSV. */
function writeLeases(backend, dir, hosts) {
  const expiry = Math.floor(Date.now() / 1000) + LEASE_SECONDS;
  if (backend === 'dnsmasq') {
    writeFileSync(join(dir, 'leases'), hosts.map((h) => `${expiry} ${h.mac} ${h.ip} * *\n`).join(''));
  } else {
    const id = keaSubnetId(CIDR);
    writeFileSync(
      join(dir, 'leases4.csv'),
      `address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n${hosts
        .map((h) => `${h.ip},${h.mac},,${LEASE_SECONDS},${expiry},${id},0,0,,0,\n`)
        .join('')}`,
    );
  }
}

/** The request generator in the client namespace, spoken to over IPC. */
async function startGenerator() {
  const child = spawn('ip', ['netns', 'exec', CLIENT_NS, process.execPath, join(root, 'bench', 'dhcp-requests.mjs')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  undo.push(() => child.exitCode === null && child.kill('SIGKILL'));
  const next = () =>
    new Promise((resolve, reject) => {
      const exited = (code) => reject(new Error(`the DHCP request generator exited (${code})`));
      child.once('message', (message) => {
        child.off('exit', exited);
        resolve(message);
      });
      child.once('exit', exited);
    });
  await next();
  return {
    stream: (rate, macs) => child.send({ stream: { rate, macs } }),
    probe: async (probe) => {
      const answer = next();
      child.send({ probe });
      return (await answer).probed;
    },
    report: async () => {
      const answer = next();
      child.send({ report: true });
      return (await answer).requests;
    },
  };
}

/** One server: the map applied whole, the stream started, then `changes` changes one at a time. */
async function measureServer(backend, { hostsDatabase, hosts: count, rate, changes }) {
  const dir = mkdtempSync(join(tmpdir(), `ipwarden-bench-${backend}-`));
  undo.push(() => rmSync(dir, { recursive: true, force: true }));
  const wrapper = join(dir, `${backend}-in-ns`);
  const binary = backend === 'dnsmasq' ? 'dnsmasq' : 'kea-dhcp4';
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${SERVER_NS} ${binary} "$@"\n`, { mode: 0o755 });
  const log = (line) => say(`${backend}: ${line}`);
  const applier =
    backend === 'dnsmasq'
      ? new DnsmasqApplier({ dir, interfaces: ['bsrv0'], binary: wrapper, log })
      : new KeaApplier({ dir, interfaces: ['bsrv0'], hostsDatabase, binary: wrapper, log });
  undo.push(() => applier.close());

  let hosts = Array.from({ length: count }, (_, n) => ({ mac: macOf(n), ip: ipOf(n), subnet: CIDR }));
  writeLeases(backend, dir, hosts);
  let version = 1;
  const t0 = performance.now();
  await applier.apply({ version, hosts, subnets: [SUBNET] }, undefined);
  const wholeMs = performance.now() - t0;

  const generator = await startGenerator();
  generator.stream(
    rate,
    hosts.map((h) => h.mac),
  );
  await sleep(3_000);
  const taken = [];
  for (let i = 0; i < changes; i++) {
    const kind = KINDS[i % KINDS.length];
    const base = version++;
    let change;
    let probe;
    if (kind === 'add') {
      const host = { mac: macOf(i, 1), ip: `10.99.100.${i}`, subnet: CIDR };
      hosts = [...hosts, host];
      change = { hosts: [host], removed: [] };
      probe = { mac: host.mac, ip: host.ip };
    } else if (kind === 'move') {
      const n = Math.floor(count / 10) + i;
      const host = { ...hosts[n], ip: `10.99.101.${i}` };
      hosts = hosts.map((h, k) => (k === n ? host : h));
      change = { hosts: [host], removed: [] };
      probe = { mac: host.mac, ip: host.ip };
    } else {
      const gone = hosts[Math.floor(count / 5) + i];
      hosts = hosts.filter((h) => h !== gone);
      change = { hosts: [], removed: [{ subnet: CIDR, mac: gone.mac }] };
      probe = { mac: gone.mac, ip: gone.ip, not: true };
    }
    const start = now();
    const probed = generator.probe(probe);
    await applier.apply({ version, hosts, subnets: [SUBNET] }, { type: 'dhcpMapChange', version, base, ...change });
    const appliedAt = now();
    const at = await probed;
    taken.push({
      kind,
      start,
      applyMs: appliedAt - start,
      takeUpMs: at === null ? null : at - start,
      end: at ?? appliedAt,
    });
    await sleep(1_000);
  }
  await sleep(2_000);
  const requests = await generator.report();
  await applier.close();
  undo.pop();
  return { backend, hosts: count, wholeMs, taken, requests };
}

/** What the stream met: all of it, and within the moments changes were taken up. */
function summarize({ backend, hosts, wholeMs, taken, requests }) {
  const during = requests.filter((r) => taken.some((t) => r.sentAt >= t.start && r.sentAt <= t.end + SETTLE_MS));
  const of = (list) => {
    const answered = list.filter((r) => r.answeredMs !== undefined).map((r) => r.answeredMs);
    answered.sort((a, b) => a - b);
    return {
      sent: list.length,
      unanswered: list.length - answered.length,
      p50: quantile(answered, 0.5),
      p99: quantile(answered, 0.99),
      max: answered.at(-1) ?? 0,
    };
  };
  const kinds = KINDS.map((kind) => {
    const changes = taken.filter((t) => t.kind === kind);
    const takeUps = changes.map((t) => t.takeUpMs).filter((ms) => ms !== null);
    takeUps.sort((a, b) => a - b);
    return {
      kind,
      count: changes.length,
      notTaken: changes.length - takeUps.length,
      p50: quantile(takeUps, 0.5),
      max: takeUps.at(-1) ?? 0,
    };
  });
  return { backend, hosts, wholeMs, kinds, all: of(requests), during: of(during) };
}

/**
 * Both servers, one after the other, in namespaces made for the run. `pg` is the bench's
 * PostgreSQL (Kea's hosts database goes in a database of its own there).
 */
export async function measureServers(pg, options) {
  netns();
  pg.psql('create database kea');
  const port = new URL(pg.url).port;
  const hostsDatabase = `postgres://postgres@localhost/kea?host=${pg.dir}&port=${port}`;
  const results = [];
  // dnsmasq also at a tenth of the map: its cost grows with hosts × leases (BACKENDS.md).
  const runs = [
    ['dnsmasq', options.hosts],
    ['dnsmasq', Math.round(options.hosts / 10)],
    ['kea', options.hosts],
  ];
  for (const [backend, hosts] of runs) {
    say(
      `${backend}: ${hosts.toLocaleString('en-US')} hosts with leases, ${options.rate} DISCOVERs/s, ${options.changes} changes one at a time`,
    );
    results.push(summarize(await measureServer(backend, { ...options, hosts, hostsDatabase })));
  }
  return results;
}

/** The report's lines for the servers. */
export function serverLines(results, { rate }) {
  const ms = (n) => `${n.toFixed(n < 10 ? 1 : 0)} ms`;
  const lines = [
    `real servers, each run by the agent's applier with a lease for every host of its map, ${rate} DISCOVERs/s from those hosts meanwhile:`,
  ];
  for (const r of results) {
    lines.push(`  ${r.backend}, ${r.hosts.toLocaleString('en-US')} hosts (whole map applied in ${ms(r.wholeMs)}):`);
    for (const k of r.kinds) {
      lines.push(
        `    a host ${k.kind === 'add' ? 'added' : k.kind === 'move' ? 'moved' : 'released'}: taken up in p50 ${ms(k.p50)}, max ${ms(k.max)} (${k.count} changes${k.notTaken > 0 ? `, ${k.notTaken} not taken up within 10 s` : ''})`,
      );
    }
    for (const [name, s] of [
      ['whole run', r.all],
      ['while changes were taken up', r.during],
    ]) {
      lines.push(
        `    ${name}: ${s.unanswered} of ${s.sent.toLocaleString('en-US')} DISCOVERs unanswered; answered in p50 ${ms(s.p50)}, p99 ${ms(s.p99)}, max ${ms(s.max)}`,
      );
    }
  }
  return lines;
}
