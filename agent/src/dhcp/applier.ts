/**
 * A DHCP backend (DESIGN.md, agent point 6): something that makes a DHCP server serve a map.
 * One implementation per server in this folder, each held to the same conformance suite
 * (applier-conformance.test.ts); BACKENDS.md has what each server was measured to do.
 */
import type { DhcpMapChange, DhcpMapContent } from '@ipwarden/protocol';

export interface DhcpApplier {
  readonly backend: 'file' | 'dnsmasq' | 'kea';
  /**
   * Makes the server serve `map`. `change` is what differs from the map applied before (none
   * the first time), for backends that can take just that. Throws an Error in the server's own
   * words when it cannot — and then the server still serves the map it served before.
   */
  apply(map: DhcpMapContent, change: DhcpMapChange | undefined): Promise<void>;
  /** The hosts the server serves now, read back from it, to tell drift; undefined when it cannot say. */
  served(): Promise<DhcpMapContent['hosts'] | undefined>;
  close(): Promise<void>;
}
