/**
 * Output for people: aligned tables and field lists, one set of columns per resource. Every
 * value is escaped, since host names and MACs come from the network and a terminal obeys the
 * control characters it is sent. (`--json` bypasses all of this: it prints the API's answer.)
 */

export type Row = Record<string, unknown>;
/** Header → the row's key, or how to get the value. */
export type Columns = Record<string, string | ((row: Row) => unknown)>;

const NAMED: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * C0 and C1 controls and DEL, and the invisible or reordering characters a name could use to
 * pass for another (zero-width, line separators, bidirectional overrides and isolates).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const UNSAFE = /[\\\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

export function escapeText(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`);
  });
}

/** One value as a cell: `-` for nothing, lists joined by commas, objects as key=value. */
export function cell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'string') return escapeText(value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(cell).join(',');
  if (typeof value === 'object')
    return Object.entries(value).length === 0
      ? '-'
      : Object.entries(value)
          .map(([k, v]) => `${escapeText(k)}=${cell(v)}`)
          .join(',');
  return String(value);
}

/** Code points, not UTF-16 units, so that a non-BMP character counts once. */
const width = (text: string) => [...text].length;

export function table(columns: Columns, rows: readonly Row[]): string {
  const getters = Object.values(columns).map((get) => (typeof get === 'string' ? (row: Row) => row[get] : get));
  const lines = [Object.keys(columns), ...rows.map((row) => getters.map((get) => cell(get(row))))];
  const widths = Object.keys(columns).map((_, i) => Math.max(...lines.map((line) => width(line[i]!))));
  return lines
    .map((line) =>
      line.map((text, i) => (i === line.length - 1 ? text : text + ' '.repeat(widths[i]! - width(text)))).join('  '),
    )
    .join('\n');
}

/** One resource as `field: value` lines; lists of objects are left to tables of their own. */
export function record(resource: Row, omit: readonly string[] = []): string {
  const fields = Object.entries(resource).filter(
    ([key, value]) => !omit.includes(key) && !(Array.isArray(value) && value.some((v) => typeof v === 'object')),
  );
  const keyWidth = Math.max(0, ...fields.map(([key]) => width(key)));
  return fields.map(([key, value]) => `${`${escapeText(key)}:`.padEnd(keyWidth + 1)}  ${cell(value)}`).join('\n');
}

const rows = (value: unknown): Row[] => (Array.isArray(value) ? (value as Row[]) : []);
const items = (page: unknown): Row[] => rows((page as { items?: unknown }).items);

const ADDRESS: Columns = { IP: 'ip', KIND: 'kind', MAC: 'mac', HOSTNAME: 'hostname', OWNER: 'owner', SUBNET: 'cidr' };
const SUBNET: Columns = {
  CIDR: 'cidr',
  VLAN: 'vlan',
  NAME: 'name',
  GATEWAY: 'gateway',
  DNS: 'dnsServers',
  MANAGED: 'managed',
  ALLOCATION: 'allocation',
  ID: 'id',
};
const RANGE: Columns = { ID: 'id', START: 'start', END: 'end', PURPOSE: 'purpose', COMMENT: 'comment' };
const POOL: Columns = {
  NAME: 'name',
  RANGES: (p) => rows(p.ranges).map((r) => `${r.start}-${r.end}`),
  CLAIMS: (p) => Object.keys((p.status as { claims?: object } | undefined)?.claims ?? {}).length,
  ALLOCATION: 'allocation',
  ID: 'id',
};
const POOL_RANGE: Columns = {
  SUBNET: 'cidr',
  START: 'start',
  END: 'end',
  PREFIX: 'prefix',
  GATEWAY: 'gateway',
  DNS: 'dnsServers',
};
const CLAIM: Columns = {
  CLAIM: 'claim',
  ADDRESS: (c) => `${c.address}/${c.prefix}`,
  GATEWAY: 'gateway',
  MAC: 'mac',
  NAME: 'name',
};
const NODE: Columns = {
  ID: 'id',
  HOSTNAME: 'hostname',
  INTERFACES: (n) => rows(n.interfaces).map((i) => i.mac),
  ADDRESSES: (n) => rows(n.addresses).map((a) => a.ip),
};
const INTERFACE: Columns = { MAC: 'mac', NAME: 'name', VIRTUAL: 'virtual' };

/** A segment (DESIGN.md): `7`, or `100.7` for inner VLAN 7 in outer (QinQ) VLAN 100. */
const segment = (row: Row) => (row.outerVlan ? `${row.outerVlan}.${row.vlan}` : row.vlan);

/** An API time to the second: the milliseconds only widen a table (--json keeps them). */
const seconds = (at: unknown) => (typeof at === 'string' ? at.replace(/(T\d\d:\d\d:\d\d)\.\d+Z$/, '$1Z') : at);

/** A conflict's MACs: a list, or the keys of a map of MAC to when it was last seen. */
const macsOf = (macs: unknown) =>
  Array.isArray(macs) || typeof macs !== 'object' || macs === null ? macs : Object.keys(macs);

/**
 * What an event's line shows of its resource, where the resource has it: enough to tell a
 * conflict, an address, an agent or a DHCP map apart at a glance (--json has all of it).
 */
const EVENT_FIELDS: Record<string, (value: unknown) => unknown> = {
  kind: (kind) => kind,
  ip: (ip) => ip,
  mac: (mac) => mac,
  macs: macsOf,
  status: (status) => status,
  name: (name) => name,
  hostname: (hostname) => hostname,
  agent: (agent) => (agent as { name?: unknown })?.name ?? agent,
  version: (version) => version,
};

const CONFLICT: Columns = {
  ID: 'id',
  KIND: 'kind',
  IP: 'ip',
  MACS: (c) => macsOf(c.macs),
  VLAN: segment,
  STATUS: 'status',
  'FIRST-SEEN': (c) => seconds(c.firstSeen),
  'LAST-SEEN': (c) => seconds(c.lastSeen),
  EVIDENCE: (c) => rows(c.evidence).length,
};
const EVIDENCE: Columns = {
  AGENT: 'agent',
  INTERFACE: 'interface',
  VLAN: segment,
  SOURCE: 'source',
  KIND: 'kind',
  MAC: 'mac',
  AT: (e) => seconds(e.at),
};
const WEBHOOK: Columns = {
  ID: 'id',
  URL: 'url',
  EVENTS: 'events',
  FORMAT: 'format',
  ENABLED: 'enabled',
  'LAST-DELIVERY': (w) => seconds(w.lastDeliveryAt),
  // No HTTP status when no answer came: why not, then.
  'LAST-STATUS': (w) => w.lastStatus ?? w.lastError,
  FAILURES: 'failures',
};
/** An exemption's MACs and kinds: none listed means all of them. */
const allIfNone = (list: unknown, all: string) => (Array.isArray(list) && list.length > 0 ? list : all);
const EXEMPTION: Columns = {
  ID: 'id',
  CIDR: (x) => x.cidr ?? x.ip,
  MACS: (x) => allIfNone(x.macs, 'any'),
  KINDS: (x) => allIfNone(x.kinds, 'every'),
  COMMENT: 'comment',
};
const DHCP_SERVER: Columns = { ID: 'id', VLAN: segment, IP: 'ip', MAC: 'mac', COMMENT: 'comment' };

const blocks = (...parts: string[]) => parts.join('\n\n');

/**
 * Where the DHCP maps stand after a change (API.md, "DHCP wait"): nothing when no map holds
 * the address, else its state and each serving agent's, with the reason of a failed apply.
 */
export function dhcpLine(answer: unknown): string | undefined {
  const dhcp = (answer as { dhcp?: { state?: string; version?: unknown; agents?: unknown } } | undefined)?.dhcp;
  if (dhcp === undefined || dhcp.state === 'none') return undefined;
  const agents = rows(dhcp.agents).map((a) => `${a.name}: ${a.state}${a.error === undefined ? '' : ` (${a.error})`}`);
  return escapeText(`DHCP: ${dhcp.state}${agents.length > 0 ? ` — ${agents.join(', ')}` : ''}`);
}

/** A view of a changed address, with its DHCP line under it. */
const withDhcpLine = (view: (answer: unknown) => string) => (answer: unknown) => {
  const line = dhcpLine(answer);
  return line === undefined ? view(answer) : `${view(answer)}\n${line}`;
};

const AGENT: Columns = {
  NAME: 'name',
  CONNECTED: 'connected',
  'LAST-SEEN': (a) => seconds(a.lastSeen),
  DHCP: (a) => (a.dhcp as Row | undefined)?.backend,
  APPLIED: (a) => (a.dhcp as Row | undefined)?.appliedVersion,
  WANTED: (a) => (a.dhcp as Row | undefined)?.wantedVersion,
  'IN-STEP': (a) => (a.dhcp as Row | undefined)?.inStep,
  DROPS: (a) => (a.stats as Row | null | undefined)?.kernelDrops,
  OUTBOX: (a) => (a.stats as Row | null | undefined)?.outboxDepth,
};

/** How each answer of the API looks to a person. */
export const views = {
  addresses: (page: unknown) => table(ADDRESS, items(page)),
  address: withDhcpLine((address: unknown) => table(ADDRESS, [address as Row])),
  released: (address: unknown) => {
    const a = address as Row;
    const line = dhcpLine(address);
    return escapeText(`released ${a.ip}`) + (line === undefined ? '' : `\n${line}`);
  },
  agents: (page: unknown) => table(AGENT, items(page)),
  agent: (agent: unknown) => record(agent as Row),
  addressDetail: (address: unknown) => record(address as Row),
  subnets: (page: unknown) => table(SUBNET, items(page)),
  subnet: (subnet: unknown) => record(subnet as Row),
  utilization: (answer: unknown) => {
    const u = answer as Row & { allocated?: { total?: unknown; byKind?: unknown } };
    const { addresses, allocated, ...counts } = u;
    return blocks(
      record({ ...counts, allocated: allocated?.total, byKind: allocated?.byKind }),
      ...(Array.isArray(addresses)
        ? [
            table(
              { IP: 'ip', STATE: 'state', KIND: 'kind' },
              rows(addresses).filter((a) => a.state !== 'free'),
            ),
          ]
        : []),
    );
  },
  ranges: (page: unknown) => table(RANGE, items(page)),
  range: (range: unknown) => table(RANGE, [range as Row]),
  pools: (page: unknown) => table(POOL, items(page)),
  pool: (answer: unknown) => {
    const pool = answer as Row & { status?: { claims?: Record<string, unknown> } };
    const claims = Object.entries(pool.status?.claims ?? {}).map(([claim, address]) => ({ claim, address }));
    return blocks(
      record(pool, ['status', 'ranges']),
      table(POOL_RANGE, rows(pool.ranges)),
      table({ CLAIM: 'claim', ADDRESS: 'address' }, claims),
    );
  },
  claim: (claim: unknown) => table(CLAIM, [claim as Row]),
  nodes: (page: unknown) => table(NODE, items(page)),
  node: (answer: unknown) => {
    const node = answer as Row;
    return blocks(
      record(node, ['interfaces', 'addresses']),
      table(INTERFACE, rows(node.interfaces)),
      table(ADDRESS, rows(node.addresses)),
    );
  },
  conflicts: (page: unknown) => table(CONFLICT, items(page)),
  conflict: (answer: unknown) => {
    const conflict = answer as Row;
    return blocks(record({ ...conflict, macs: macsOf(conflict.macs) }), table(EVIDENCE, rows(conflict.evidence)));
  },
  webhooks: (page: unknown) => table(WEBHOOK, items(page)),
  webhook: (webhook: unknown) => table(WEBHOOK, [webhook as Row]),
  exemptions: (page: unknown) => table(EXEMPTION, items(page)),
  exemption: (exemption: unknown) => table(EXEMPTION, [exemption as Row]),
  dhcpServers: (page: unknown) => table(DHCP_SERVER, items(page)),
  dhcpServer: (server: unknown) => table(DHCP_SERVER, [server as Row]),
  /** A document meant for another program (a pool's export): JSON even for people. */
  document: (answer: unknown) => JSON.stringify(answer, null, 2),
  identity: (me: unknown) => record(me as Row),
  /** An event of the stream on one line: its id, time and type, then what it is about. */
  event: (answer: unknown) => {
    if (answer === null || typeof answer !== 'object') return cell(JSON.stringify(answer));
    const { id, at, type, data } = answer as { id?: unknown; at?: unknown; type?: unknown; data?: Row | null };
    const about = Object.entries(EVENT_FIELDS)
      .filter(([field]) => data?.[field] !== undefined && data[field] !== null)
      .map(([field, show]) => `${field}=${cell(show(data![field]))}`);
    return [cell(id), cell(seconds(at)), cell(type), ...about].join('  ');
  },
};
