/**
 * `ipwarden-agent run`: the agent itself. Captures on the watched interfaces (or reads one
 * capture file with --pcap), turns frames into sightings, keeps them in the outbox and streams
 * them to the collector through the uplink, until SIGTERM or SIGINT.
 *
 * Exit codes: 0 stopped by a signal, or with --pcap once the collector has stored every
 * sighting of the file; 2 bad configuration or input (a UsageError), also a capture file damaged
 * part way (after what comes before the damage is stored); 1 anything else, such as missing
 * capture capabilities, a state directory another agent holds, an outbox that can no longer be
 * written, or with --pcap a signal before the collector has stored everything.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import type { DhcpMap, DhcpMapChange, Hello } from '@ipwarden/protocol';
import { CaptureFileError, readCaptureFile } from './capture-file.js';
import { applyWatch, CaptureSet } from './capture-set.js';
import type { AgentConfig } from './config.js';
import type { DhcpApplier } from './dhcp/applier.js';
import { DhcpService } from './dhcp/dhcp-service.js';
import { DnsmasqApplier } from './dhcp/dnsmasq-applier.js';
import { FileApplier } from './dhcp/file-applier.js';
import { KeaApplier } from './dhcp/kea-applier.js';
import { UsageError } from './errors.js';
import { FramePipeline } from './frame-pipeline.js';
import { instanceId } from './instance-id.js';
import { watchedInterfaces } from './interfaces.js';
import { checkCaptureCapabilities } from './live-capture.js';
import { Outbox } from './outbox.js';
import { lockStateDirectory } from './state-lock.js';
import { TokenStore } from './token-store.js';
import { type HelloFields, Uplink, type UplinkOptions } from './uplink.js';

export type Logger = (message: string) => void;

/** One line per event on stderr, after an ISO 8601 timestamp. */
export function logToStderr(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

/** The protocol's bounds on hello's interface list (packages/protocol messages.ts). */
const MAX_HELLO_INTERFACES = 256;
const MAX_HELLO_ADDRESSES = 1024;
const MAX_ADDRESS_LENGTH = 49;

function agentVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/** What hello says of each interface; one that has gone away is named without addresses. */
function describeInterfaces(names: readonly string[]): Hello['interfaces'] {
  return names.slice(0, MAX_HELLO_INTERFACES).map((name) => {
    let found: { mac: string | undefined; addresses: string[] } = { mac: undefined, addresses: [] };
    try {
      found = watchedInterfaces([name])[0]!;
    } catch {
      // gone since it was configured: still named, so the collector knows it is watched
    }
    return {
      name,
      ...(found.mac === undefined ? {} : { mac: found.mac }),
      vlans: [],
      addresses: found.addresses.filter((a) => a.length <= MAX_ADDRESS_LENGTH).slice(0, MAX_HELLO_ADDRESSES),
    };
  });
}

/** The DHCP backend asked for, with its last applied map given to it; undefined for none. */
async function startDhcp(
  config: AgentConfig,
  log: Logger,
): Promise<{ service: DhcpService; connect(uplink: Uplink): void } | undefined> {
  if (config.dhcpBackend === 'none' || config.pcap !== undefined) return undefined;
  let applier: DhcpApplier;
  switch (config.dhcpBackend) {
    case 'file':
      applier = new FileApplier(config.dhcpFile ?? join(config.stateDir, 'dhcp-map.json'));
      break;
    case 'dnsmasq':
      if (config.dnsmasqPidFile === undefined && config.interfaces.length === 0) {
        throw new UsageError(
          '--dhcp-backend dnsmasq runs dnsmasq on the --interface list: name them (or give --dnsmasq-pid-file)',
        );
      }
      applier = new DnsmasqApplier({
        dir: config.dnsmasqDir ?? join(config.stateDir, 'dnsmasq'),
        interfaces: config.interfaces,
        pidFile: config.dnsmasqPidFile,
        log,
      });
      break;
    case 'kea':
      if (config.interfaces.length === 0 || config.keaHostsDatabase === undefined) {
        throw new UsageError(
          '--dhcp-backend kea runs kea-dhcp4 on the --interface list with its reservations in --kea-hosts-database: give both',
        );
      }
      try {
        applier = new KeaApplier({
          dir: config.keaDir ?? join(config.stateDir, 'kea'),
          interfaces: config.interfaces,
          hostsDatabase: config.keaHostsDatabase,
          log,
        });
      } catch (error) {
        throw new UsageError(`--kea-hosts-database: ${(error as Error).message}`);
      }
      break;
  }
  let uplink: Uplink | undefined;
  const service = new DhcpService({
    stateDir: config.stateDir,
    applier,
    report: (message) => uplink?.sendDhcp(message) ?? false,
    log,
    checkMs: config.dhcpCheckSeconds * 1000,
  });
  await service.start();
  return { service, connect: (u) => (uplink = u) };
}

function readCa(path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`--ca (IPWARDEN_CA): cannot read ${path}: ${(error as Error).message}`);
  }
}

/** The interfaces live capture starts on; refuses early what would fail later. */
function interfacesToWatch(config: AgentConfig): string[] {
  let names: string[];
  try {
    names = watchedInterfaces(config.interfaces).map((i) => i.name);
  } catch (error) {
    throw new UsageError(`--interface (IPWARDEN_INTERFACES): ${(error as Error).message}`);
  }
  if (names.length === 0) {
    throw new UsageError(
      'no interface to watch: none is up with an address; name one with --interface (IPWARDEN_INTERFACES)',
    );
  }
  checkCaptureCapabilities(names);
  return names;
}

/** The exit code, settled by the first of a signal, a fatal error or the end of the work. */
function exitCode(): { promise: Promise<number>; settle: (code: number) => void } {
  let settle!: (code: number) => void;
  const promise = new Promise<number>((resolve) => {
    settle = resolve;
  });
  return { promise, settle };
}

/**
 * Runs the agent with `config` until it stops, and returns the exit code. The caller ends the
 * process: pcap 3.1.0 frees a capture's handle only when the next frame arrives.
 */
export async function runAgent(config: AgentConfig, log: Logger = logToStderr): Promise<number> {
  const interfaces = config.pcap === undefined ? interfacesToWatch(config) : [];
  const ca = readCa(config.ca);
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  const release = lockStateDirectory(config.stateDir);
  try {
    const credentials = new TokenStore({ dir: config.stateDir, token: config.token, secret: config.secret });
    if (credentials.current() === undefined) {
      throw new UsageError(
        `--secret (IPWARDEN_AGENT_SECRET) or --token (IPWARDEN_AGENT_TOKEN) is needed: no token is stored in ${config.stateDir} yet`,
      );
    }
    const outbox = new Outbox({ dir: config.stateDir, maxBytes: config.outboxBytes });
    let dhcp: Awaited<ReturnType<typeof startDhcp>>;
    try {
      // The DHCP server is given its last applied map before the collector is reached (it may be out of reach).
      dhcp = await startDhcp(config, log);
      const uplinkOptions = {
        collectors: config.collectors,
        credentials,
        outbox,
        log,
        ca,
        batchItems: config.batchItems,
        flushDelayMs: config.flushDelayMs,
        ...(dhcp !== undefined && { onDhcpMap: (map: DhcpMap | DhcpMapChange) => dhcp?.service.received(map) }),
      };
      const host = hostname();
      const instance = instanceId(config.stateDir);
      const version = agentVersion();
      const hello = (names: readonly string[]): HelloFields => ({
        agentId: config.name ?? host.slice(0, 64),
        instance,
        hostname: host,
        version,
        interfaces: describeInterfaces(names),
        dhcp: { backend: config.dhcpBackend, appliedVersion: dhcp?.service.appliedVersion ?? null },
      });
      const starting = () =>
        log(
          `ipwarden-agent ${version} starting: state in ${config.stateDir}, collector ${config.collectors.join(', ')}`,
        );
      if (config.pcap !== undefined) return await runPcap(config, config.pcap, uplinkOptions, hello, starting, log);
      starting();
      return await runLive(config, interfaces, uplinkOptions, hello, log, (uplink) => dhcp?.connect(uplink));
    } finally {
      await dhcp?.service.close();
      outbox.close();
    }
  } finally {
    release();
  }
}

type CommonUplinkOptions = Omit<UplinkOptions, 'hello' | 'onConfig' | 'onFatal'>;

/** Signals end the agent; it stops taking frames, writes what it holds to the outbox and closes. */
function onSignals(handler: (signal: NodeJS.Signals) => void): () => void {
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
  for (const signal of signals) process.once(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}

async function runLive(
  config: AgentConfig,
  configured: string[],
  uplinkOptions: CommonUplinkOptions,
  hello: (names: readonly string[]) => HelloFields,
  log: Logger,
  withUplink: (uplink: Uplink) => void,
): Promise<number> {
  const done = exitCode();
  const uplink = new Uplink({
    ...uplinkOptions,
    hello: () => hello(captures.wanted),
    onConfig: (change, whole) => captures.configure(change, whole),
    onFatal: () => done.settle(1),
  });
  withUplink(uplink);
  const captures = new CaptureSet({
    interfaces: configured,
    submit: (item) => uplink.submit(item),
    log,
    refreshSeconds: config.refreshSeconds,
    maxBindings: config.maxBindings,
  });

  let lastDropped = 0;
  const report = (): void => {
    const totals = captures.totals();
    const outbox = uplinkOptions.outbox.stats;
    if (outbox.dropped > lastDropped) {
      log(`outbox full: ${outbox.dropped - lastDropped} sightings dropped (${outbox.dropped} since start)`);
      lastDropped = outbox.dropped;
    }
    uplink.sendStats({ ...totals, outboxDepth: outbox.depth, outboxDropped: outbox.dropped });
  };
  captures.start();
  const statsTimer = setInterval(report, config.statsSeconds * 1000);
  const disposeSignals = onSignals((signal) => {
    log(`stopping (${signal})`);
    done.settle(0);
  });
  try {
    uplink.start();
    return await done.promise;
  } finally {
    disposeSignals();
    clearInterval(statsTimer);
    captures.closeAll();
    await uplink.close();
    report();
    log(`stopped; ${uplinkOptions.outbox.stats.depth} sightings wait in the outbox for the collector`);
  }
}

async function runPcap(
  config: AgentConfig,
  file: string,
  uplinkOptions: CommonUplinkOptions,
  hello: (names: readonly string[]) => HelloFields,
  starting: () => void,
  log: Logger,
): Promise<number> {
  const done = exitCode();
  // The file stands for one segment; its name, within the protocol's 64 characters, for the interface.
  const name = basename(file).slice(0, 64);
  // The file is read before the uplink connects, so a watch list from the collector comes too
  // late for it; it is applied all the same, as the live agent does, should that ever change.
  const uplink = new Uplink({
    ...uplinkOptions,
    hello: () => hello([name]),
    onConfig: (change, whole) => {
      if (change.watch !== undefined || whole) applyWatch(pipeline, change.watch);
    },
    onFatal: () => done.settle(1),
  });
  const pipeline = new FramePipeline((sighting) => uplink.submit({ ...sighting, interface: name }), {
    refreshMs: config.refreshSeconds * 1000,
    maxEntries: config.maxBindings,
  });
  const disposeSignals = onSignals((signal) => {
    log(`stopping (${signal}) before the collector stored every sighting of ${file}`);
    done.settle(1);
  });
  try {
    let error: string | undefined;
    try {
      error = readCaptureFile(file, (r) => pipeline.push(r.linkType, r.bytes, r.offset, r.length, r.timestampMs)).error;
    } catch (caught) {
      if (caught instanceof CaptureFileError) throw new UsageError(caught.message);
      throw caught;
    }
    uplink.flush();
    starting();
    const { frames, sightings, malformed } = pipeline.stats;
    log(`read ${file}: ${frames} frames, ${malformed} malformed, ${sightings} sightings`);
    uplink.start();
    uplink.idle().then(
      () => done.settle(0),
      () => undefined, // closed: the code is already settled
    );
    const code = await done.promise;
    if (code !== 0) return code;
    const { dropped } = uplinkOptions.outbox.stats;
    const { refused, sent } = uplink.counters;
    log(
      `the collector has stored every sighting of ${file} (${sightings} sightings, ${sent} batch${sent === 1 ? '' : 'es'} sent` +
        (dropped > 0 ? `; ${dropped} sightings dropped from the full outbox` : '') +
        (refused > 0 ? `; ${refused} dropped as invalid` : '') +
        ')',
    );
    if (error !== undefined) throw new UsageError(`${file}: ${error}`);
    return 0;
  } finally {
    disposeSignals();
    await uplink.close();
  }
}
