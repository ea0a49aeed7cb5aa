/**
 * Whether a sighting says "this MAC holds this IP now" — the rest (probes, DHCP servers and
 * clients, offers) are events. One predicate for the agent's binding table and the collector.
 * A module of its own, free of the schema library, so the agent's hot path can import it alone.
 */
export function isBindingSighting(sighting: {
  kind: string;
  detail?: Readonly<Record<string, unknown>> | undefined;
}): boolean {
  switch (sighting.kind) {
    case 'host':
    case 'router':
      return true;
    case 'dhcp-lease':
      // An OFFER only proposes the address; the ACK hands it over (RFC 2131 3.1).
      return sighting.detail?.messageType === 'ack';
    default:
      return false;
  }
}
