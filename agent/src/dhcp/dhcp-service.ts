/**
 * The agent's side of DHCP map pushes (DESIGN.md, agent point 6): maps and changes from the
 * collector become the map wanted; one apply runs at a time and takes the newest wanted map when
 * it starts, so changes that arrive together are applied together (a thousand a second are not a
 * thousand reloads). Each apply is answered with `dhcpApplied` or `dhcpFailed` (the server's own
 * words); a failed one leaves the server on the map it had — the applier's promise — and is
 * tried again with backoff. The last applied map is kept in the state directory: after a
 * restart the server is given it again at once, and goes on serving it while the collector is
 * out of reach.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  applyMapChange,
  type DhcpApplied,
  type DhcpFailed,
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

export interface DhcpServiceOptions {
  stateDir: string;
  applier: DhcpApplier;
  /** Sends an answer to the collector; false when there is no connection (the next one asks again). */
  report(message: DhcpApplied | DhcpFailed): boolean;
  log: Logger;
  /** Tests shorten the backoff. */
  retryFirstMs?: number;
}

export class DhcpService {
  private applied: DhcpMapContent | undefined;
  private wanted: DhcpMapContent | undefined;
  private running: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;
  private keeping: Promise<void> = Promise.resolve();

  constructor(private readonly options: DhcpServiceOptions) {}

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
    try {
      await this.options.applier.apply(map, this.applied === undefined ? undefined : mapChange(this.applied, map));
      return undefined;
    } catch (error) {
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
    await this.running;
    await this.keeping;
    await this.options.applier.close();
  }
}
