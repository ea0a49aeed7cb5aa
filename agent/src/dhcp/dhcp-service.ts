/**
 * The agent's side of DHCP map pushes (DESIGN.md, agent point 6): maps and changes from the
 * collector become the map wanted; one apply runs at a time and takes the newest wanted map when
 * it starts, so changes that arrive together are applied together (a thousand a second are not a
 * thousand reloads). Each apply is answered with `dhcpApplied` or `dhcpFailed` (the server's own
 * words); a failed one leaves the server on the map it had — the applier's promise — and is
 * tried again with backoff. The last applied map is kept in the state directory: after a
 * restart the server is given it again at once, and goes on serving it while the collector is
 * out of reach. Now and then (`checkMs`) the server is asked what it serves (for backends that
 * can read it back): drift from the applied map — someone edited the server's hosts behind the
 * agent — is reported (`dhcpDrift`) and the map applied whole again.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  applyMapChange,
  type DhcpApplied,
  type DhcpDrift,
  type DhcpFailed,
  type DhcpHost,
  type DhcpMap,
  type DhcpMapChange,
  type DhcpMapContent,
  mapChange,
  mapProblems,
} from '@ipwarden/protocol';
import { writeFileAtomicAsync } from '../atomic-file.js';
import type { Logger } from '../run-command.js';
import type { DhcpApplier } from './applier.js';

/** The last applied map, in the state directory. */
export const APPLIED_MAP_FILE = 'dhcp-applied.json';
const RETRY_FIRST_MS = 1_000; // 1 s
const RETRY_MAX_MS = 60_000; // 1 min
/** How often the server is read back for drift, by default. */
export const DEFAULT_DRIFT_CHECK_MS = 300_000; // 5 min

export interface DhcpServiceOptions {
  stateDir: string;
  applier: DhcpApplier;
  /** Sends an answer to the collector; false when there is no connection (the next one asks again). */
  report(message: DhcpApplied | DhcpFailed | DhcpDrift): boolean;
  log: Logger;
  /** Tests shorten the backoff. */
  retryFirstMs?: number;
  /** How often the server is read back for drift; 0 never. */
  checkMs?: number;
}

/**
 * How the hosts a server serves differ from the map applied: the change that would make them
 * the map (mapChange, as the collector computes changes) — its hosts are the missing ones, its
 * removals the unexpected. Undefined when there is none.
 */
export function driftOf(applied: DhcpMapContent, served: DhcpHost[]) {
  const { hosts: missing, removed: unexpected } = mapChange({ ...applied, hosts: served }, applied);
  if (missing.length === 0 && unexpected.length === 0) return undefined;
  const detail = [
    ...missing
      .slice(0, 5)
      .map((h) => `not served: ${h.mac} → ${h.ip}${h.hostname === undefined ? '' : ` (${h.hostname})`} in ${h.subnet}`),
    ...unexpected.slice(0, 5).map((r) => `served, not in the map: ${r.mac} in ${r.subnet}`),
  ].join('; ');
  return { missing: missing.length, unexpected: unexpected.length, detail };
}

export class DhcpService {
  private applied: DhcpMapContent | undefined;
  private wanted: DhcpMapContent | undefined;
  private running: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;
  private keeping: Promise<void> = Promise.resolve();
  /** The next apply gives the server the whole map (after drift), not what changed. */
  private whole = false;
  private readonly checker: NodeJS.Timeout | undefined;

  constructor(private readonly options: DhcpServiceOptions) {
    const every = options.checkMs ?? DEFAULT_DRIFT_CHECK_MS;
    if (every > 0) {
      this.checker = setInterval(() => {
        this.checkDrift().catch((error: Error) => options.log(`DHCP: cannot read the server back: ${error.message}`));
      }, every);
      this.checker.unref();
    }
  }

  /**
   * Reads back what the server serves; drift from the applied map is reported and the map
   * applied whole again. Skipped while an apply runs or waits (the server is changing then).
   * Resolves to whether it found drift.
   */
  async checkDrift(): Promise<boolean> {
    const applied = this.applied;
    if (applied === undefined || this.running !== undefined || this.wanted !== undefined || this.closed) return false;
    const served = await this.options.applier.served();
    if (served === undefined || this.applied !== applied || this.running !== undefined) return false;
    const drift = driftOf(applied, served);
    if (drift === undefined) return false;
    this.options.log(
      `DHCP: ${this.options.applier.backend} drifted from map version ${applied.version}: ${drift.detail}`,
    );
    this.options.report({ type: 'dhcpDrift', version: applied.version, ...drift });
    this.whole = true;
    this.wanted ??= applied;
    this.kick();
    return true;
  }

  /** The version applied, for hello. */
  get appliedVersion(): number | null {
    return this.applied?.version ?? null;
  }

  /** Reads the last applied map and gives it to the server again (it may have restarted too). */
  async start(): Promise<void> {
    const path = join(this.options.stateDir, APPLIED_MAP_FILE);
    let kept: DhcpMapContent | undefined;
    try {
      kept = JSON.parse(readFileSync(path, 'utf8')) as DhcpMapContent;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.options.log(`DHCP: cannot read the last applied map (${path}): ${(error as Error).message}`);
      }
      return;
    }
    try {
      await this.options.applier.apply(kept, undefined);
      this.applied = kept;
      this.options.log(`DHCP: serving map version ${kept.version} again (${kept.hosts.length} hosts)`);
    } catch (error) {
      this.options.log(
        `DHCP: the last applied map could not be given to ${this.options.applier.backend}: ${(error as Error).message}`,
      );
    }
  }

  /** A map or a change from the collector. */
  received(message: DhcpMap | DhcpMapChange): void {
    if (this.closed) return;
    if (message.type === 'dhcpMap') {
      this.wanted = { version: message.version, hosts: message.hosts, subnets: message.subnets };
    } else {
      const held = this.wanted ?? this.applied;
      const next = held === undefined ? undefined : applyMapChange(held, message);
      if (next === undefined) {
        // Not the version it was made for: the collector sends the whole map when told so.
        this.options.report({
          type: 'dhcpFailed',
          version: message.version,
          error: `a change from version ${message.base}, and this agent holds ${held?.version ?? 'none'}`,
          behind: true,
        });
        return;
      }
      this.wanted = next;
    }
    this.failures = 0;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.kick();
  }

  /** Resolves once nothing waits to be applied, and what was applied is kept (tests). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
    await this.keeping;
  }

  private kick(): void {
    this.running ??= this.applyWanted().finally(() => {
      this.running = undefined;
      if (this.wanted !== undefined && this.retryTimer === undefined && !this.closed) this.kick();
    });
  }

  private async applyWanted(): Promise<void> {
    const map = this.wanted;
    if (map === undefined) return;
    const problems = mapProblems(map);
    const error =
      problems.length > 0
        ? `the map is unfit for a DHCP server: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (${problems.length} in all)` : ''}`
        : await this.tryApply(map);
    if (this.wanted === map) this.wanted = undefined;
    if (error === undefined) {
      this.failures = 0;
      this.applied = map;
      // Said first, kept after: the server serves it already, and should the agent stop before
      // it is kept, the collector sends the whole map on the next connection anyway.
      this.options.report({ type: 'dhcpApplied', version: map.version });
      this.keep(map);
      return;
    }
    this.options.log(`DHCP: map version ${map.version} not applied: ${error}`);
    this.options.report({ type: 'dhcpFailed', version: map.version, error: error.slice(0, 4096) });
    // A newer map came meanwhile: that one next, at once. Else this one again, later.
    if (this.wanted !== undefined) return;
    this.wanted = map;
    const delay = Math.min(RETRY_MAX_MS, (this.options.retryFirstMs ?? RETRY_FIRST_MS) * 2 ** this.failures++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, delay);
  }

  private async tryApply(map: DhcpMapContent): Promise<string | undefined> {
    const whole = this.whole || this.applied === undefined;
    this.whole = false;
    try {
      await this.options.applier.apply(map, whole ? undefined : mapChange(this.applied!, map));
      return undefined;
    } catch (error) {
      this.whole = whole; // the retry too gives it the whole map
      return (error as Error).message || String(error);
    }
  }

  /** Keeps the map in the state directory, one keeping after another (the last applied is the one left). */
  private keep(map: DhcpMapContent): void {
    const path = join(this.options.stateDir, APPLIED_MAP_FILE);
    this.keeping = this.keeping
      .then(() => writeFileAtomicAsync(path, JSON.stringify(map)))
      .catch((error: unknown) =>
        this.options.log(`DHCP: cannot keep the applied map in ${this.options.stateDir}: ${(error as Error).message}`),
      );
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.checker);
    await this.running;
    await this.keeping;
    await this.options.applier.close();
  }
}
