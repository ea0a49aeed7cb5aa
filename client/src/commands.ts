/**
 * The command line's grammar, and what each command asks of the API (API.md). Parsing is pure:
 * a command line becomes a Call — the request, and how its answer looks to a person — which
 * cli.ts sends. The usage text is generated from the same table, so the two never disagree.
 *
 * Grammar: `ipwarden NOUN [VERB] ARGUMENTS [OPTIONS]`. The nouns are the API's resources
 * (addresses, subnets, ranges, pools, nodes); without a verb they list. The everyday actions are
 * verbs of their own: reserve and release an address, claim and unclaim a pool's address, whoami.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { helpEntry, optionsHelp, parseArgsOptions } from '@ipwarden/options';
import type { Request } from './api-client.js';
import { CLIENT_CONFIG_FILE, CLIENT_GLOBAL_OPTIONS, CLIENT_OPTIONS, CLIENT_OUTPUT_OPTIONS } from './config.js';
import { UsageError } from './errors.js';
import { escapeText, views } from './output.js';

export interface Call extends Request {
  /** Follow nextCursor to the end of the list and answer one page of every item. */
  all?: boolean;
  /** The JSON body is in this file (`-`: standard input). */
  bodyFile?: string;
  /** Body fields whose text is in a file (`-`: standard input): secrets kept off the command line. */
  textFiles?: Record<string, string>;
  /**
   * The answer is `GET /events`' stream, followed until the person stops it: `view` shows each
   * event, and `lastEventId` is where it resumes (`--since`; then each event's own).
   */
  follow?: { lastEventId?: string };
  /** What a person sees of the answer (undefined for 204 No Content). */
  view: (answer: unknown) => string;
}

/** The options of every command; a name means the same thing wherever it is used. */
const OPTIONS = {
  ip: { type: 'string', value: 'IP' },
  hostname: { type: 'string', value: 'HOSTNAME' },
  mac: { type: 'string', value: 'MAC' },
  subnet: { type: 'string', value: 'SUBNET' },
  kind: { type: 'string', value: 'reserved|device|sticky|extra' },
  owner: { type: 'string', value: 'USER' },
  node: { type: 'string', value: 'NODE' },
  comment: { type: 'string', value: 'TEXT' },
  force: { type: 'boolean' },
  limit: { type: 'string', value: 'N' },
  cursor: { type: 'string', value: 'CURSOR' },
  name: { type: 'string', value: 'NAME' },
  vlan: { type: 'string', value: 'VLAN' },
  gateway: { type: 'string', value: 'IP' },
  dns: { type: 'string', multiple: true, value: 'IP' },
  allocation: { type: 'string', value: 'lowest|random' },
  purpose: { type: 'string', value: 'dynamic|reserved' },
  file: { type: 'string', value: 'FILE' },
  interface: { type: 'string', multiple: true, value: 'MAC[,NAME][,virtual]' },
  status: { type: 'string', value: 'open|acknowledged|resolved' },
  all: { type: 'boolean' },
  events: { type: 'string', value: 'TYPE,...|*' },
  secret: { type: 'string', value: 'SECRET' },
  'secret-file': { type: 'string', value: 'FILE' },
  format: { type: 'string', value: 'json|slack' },
  cidr: { type: 'string', value: 'CIDR' },
  'outer-vlan': { type: 'string', value: 'VLAN' },
  since: { type: 'string', value: 'ID' },
} as const;

type OptionName = keyof typeof OPTIONS;
type Values = {
  [K in OptionName]?: (typeof OPTIONS)[K] extends { type: 'boolean' }
    ? boolean
    : (typeof OPTIONS)[K] extends { multiple: true }
      ? string[]
      : string;
};
const specOf = (name: OptionName): { type: string; value?: string; multiple?: boolean } => OPTIONS[name];

/** Every value given of each option, in order. */
type Lists = Partial<Record<OptionName, string[]>>;

/**
 * OPTIONS as parseArgs reads them: every string option as a list, so that a command can take one
 * repeatedly and the others refuse a second value instead of silently keeping the last.
 */
const PARSED_OPTIONS: NonNullable<ParseArgsConfig['options']> = Object.fromEntries(
  Object.entries(OPTIONS).map(([name, spec]) => [
    name,
    spec.type === 'boolean' ? { type: 'boolean' as const } : { type: 'string' as const, multiple: true },
  ]),
);

/** Options of the program rather than of a command; allowed anywhere on the line. */
const GLOBAL_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  ...parseArgsOptions(CLIENT_GLOBAL_OPTIONS),
  help: { type: 'boolean', short: 'h' },
};

interface Command {
  /** The noun and verb (`subnets create`), or the verb alone (`reserve`). */
  words: string;
  /** Positional arguments, all required. */
  args: string[];
  options?: OptionName[];
  required?: OptionName[];
  /** Options this command takes more than once: its plan finds their values in `lists`. */
  repeat?: OptionName[];
  /** Options of which exactly one is given, shown as `(--a A | --b B)`. */
  oneOf?: OptionName[];
  /** What an option's value is in this command's synopsis, where OPTIONS does not say it. */
  values?: Partial<Record<OptionName, string>>;
  summary: string;
  plan(args: string[], o: Values, lists: Lists): Call;
}

/** A path segment: CIDRs carry a slash (`10.0.0.0%2F24`), IPv6 addresses colons. */
const seg = encodeURIComponent;

/** What a person sees when the API answers 204 No Content. */
const done = (text: string) => () => escapeText(text);

/** The answer as `view` shows it, or `text` if the API answers 204 No Content. */
const viewOr = (text: string, view: (answer: unknown) => string) => (answer: unknown) =>
  answer === undefined ? escapeText(text) : view(answer);

function wholeNumber(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${option}: a whole number, not "${text}"`);
  return Number(text);
}

/** `--events a,b` as the API's list of event types. */
function eventTypes(text: string): string[] {
  const types = text.split(',').map((type) => type.trim());
  if (types.some((type) => type === ''))
    throw new UsageError(`--events "${text}": event types separated by commas (DESIGN.md, "Events"), or '*'`);
  return types;
}

/** `--interface MAC[,NAME][,virtual]` as the API's interface. */
export function parseInterface(spec: string): { mac: string; name?: string; virtual?: boolean } {
  const [mac = '', ...rest] = spec.split(',');
  const nic: { mac: string; name?: string; virtual?: boolean } = { mac };
  for (const part of rest) {
    if (part === 'virtual' && nic.virtual === undefined) nic.virtual = true;
    else if (part !== '' && part !== 'virtual' && nic.name === undefined) nic.name = part;
    else throw new UsageError(`--interface "${spec}": MAC[,NAME][,virtual]`);
  }
  if (mac === '') throw new UsageError(`--interface "${spec}": MAC[,NAME][,virtual]`);
  return nic;
}

/** `conflicts acknowledge|resolve ID` (admins): the same request, each to its own path. */
function conflictAction(verb: 'acknowledge' | 'resolve', summary: string): Command {
  return {
    words: `conflicts ${verb}`,
    args: ['ID'],
    options: ['comment'],
    summary: `${summary} (admins)`,
    plan: ([id], o) => ({
      method: 'POST',
      path: `/conflicts/${seg(id!)}/${verb}`,
      body: { comment: o.comment },
      view: viewOr(`${verb}d conflict ${id}`, views.conflict),
    }),
  };
}

const COMMANDS: readonly Command[] = [
  {
    words: 'reserve',
    args: ['SUBNET'],
    options: ['ip', 'hostname', 'mac'],
    summary: 'reserve an address for yourself: the next free one of SUBNET, or --ip',
    plan: ([subnet], o) => ({
      method: 'POST',
      path: `/subnets/${seg(subnet!)}/reserve`,
      body: { ip: o.ip, hostname: o.hostname, mac: o.mac },
      view: views.address,
    }),
  },
  {
    words: 'release',
    args: ['IP'],
    options: ['subnet'],
    summary: 'release an address (--subnet when the IP is allocated in several)',
    plan: ([ip], o) => ({
      method: 'DELETE',
      path: `/addresses/${seg(ip!)}`,
      query: { subnet: o.subnet },
      view: views.released,
    }),
  },
  {
    words: 'agents list',
    args: [],
    summary: 'the agents: connected or not, their DHCP backend and map versions (applied, wanted)',
    plan: () => ({ method: 'GET', path: '/agents', view: views.agents }),
  },
  {
    words: 'agents show',
    args: ['ID'],
    summary: 'one agent, with its interfaces, the subnets it serves and its last DHCP failure',
    plan: ([id]) => ({ method: 'GET', path: `/agents/${seg(id!)}`, view: views.agent }),
  },
  {
    words: 'addresses list',
    args: [],
    options: ['subnet', 'kind', 'owner', 'mac', 'node', 'limit', 'cursor'],
    summary: 'the allocated addresses (all of them, or one page of --limit N from --cursor)',
    plan: (_, o) => {
      const all = o.limit === undefined && o.cursor === undefined;
      wholeNumber('limit', o.limit);
      const { subnet, kind, owner, mac, node, cursor } = o;
      return {
        method: 'GET',
        path: '/addresses',
        // All of them: in the largest pages the API serves (1000 addresses).
        query: { subnet, kind, owner, mac, node, cursor, limit: all ? '1000' : o.limit },
        all,
        view: views.addresses,
      };
    },
  },
  {
    words: 'addresses show',
    args: ['IP'],
    options: ['subnet'],
    summary: 'one address, with its latest sighting',
    plan: ([ip], o) => ({
      method: 'GET',
      path: `/addresses/${seg(ip!)}`,
      query: { subnet: o.subnet },
      view: views.addressDetail,
    }),
  },
  {
    words: 'addresses create',
    args: ['SUBNET'],
    options: ['kind', 'ip', 'mac', 'hostname', 'node', 'comment', 'force'],
    required: ['kind'],
    summary: 'allocate an address of a kind (device, sticky, extra: admins; --force: even one seen in use)',
    plan: ([subnet], o) => ({
      method: 'POST',
      path: '/addresses',
      body: {
        subnet,
        kind: o.kind,
        ip: o.ip,
        mac: o.mac,
        hostname: o.hostname,
        node: o.node,
        comment: o.comment,
        force: o.force,
      },
      view: views.address,
    }),
  },
  {
    words: 'subnets list',
    args: [],
    options: ['vlan'],
    summary: 'the subnets',
    plan: (_, o) => ({ method: 'GET', path: '/subnets', query: { vlan: o.vlan }, all: true, view: views.subnets }),
  },
  {
    words: 'subnets show',
    args: ['SUBNET'],
    summary: 'one subnet, by CIDR or id',
    plan: ([subnet]) => ({ method: 'GET', path: `/subnets/${seg(subnet!)}`, view: views.subnet }),
  },
  {
    words: 'subnets create',
    args: ['CIDR'],
    options: ['name', 'vlan', 'gateway', 'dns', 'allocation'],
    summary: 'add a subnet',
    plan: ([cidr], o) => ({
      method: 'POST',
      path: '/subnets',
      body: {
        cidr,
        name: o.name,
        vlan: wholeNumber('vlan', o.vlan),
        gateway: o.gateway,
        dnsServers: o.dns,
        allocation: o.allocation,
      },
      view: views.subnet,
    }),
  },
  {
    words: 'subnets delete',
    args: ['SUBNET'],
    options: ['force'],
    summary: 'delete a subnet (--force: with the addresses it holds)',
    plan: ([subnet], o) => ({
      method: 'DELETE',
      path: `/subnets/${seg(subnet!)}`,
      query: { force: o.force ? 'true' : undefined },
      view: done(`deleted subnet ${subnet}`),
    }),
  },
  {
    words: 'subnets utilization',
    args: ['SUBNET'],
    summary: "a subnet's counts, and the state of each address that is not free",
    plan: ([subnet]) => ({ method: 'GET', path: `/subnets/${seg(subnet!)}/utilization`, view: views.utilization }),
  },
  {
    words: 'ranges list',
    args: ['SUBNET'],
    summary: "a subnet's dynamic and reserved ranges",
    plan: ([subnet]) => ({ method: 'GET', path: `/subnets/${seg(subnet!)}/ranges`, all: true, view: views.ranges }),
  },
  {
    words: 'ranges create',
    args: ['SUBNET', 'START', 'END'],
    options: ['purpose', 'comment'],
    required: ['purpose'],
    summary: 'add a range: dynamic (served by DHCP) or reserved (never allocated)',
    plan: ([subnet, start, end], o) => ({
      method: 'POST',
      path: `/subnets/${seg(subnet!)}/ranges`,
      body: { start, end, purpose: o.purpose, comment: o.comment },
      view: views.range,
    }),
  },
  {
    words: 'ranges delete',
    args: ['ID'],
    summary: 'delete a range',
    plan: ([id]) => ({ method: 'DELETE', path: `/ranges/${seg(id!)}`, view: done(`deleted range ${id}`) }),
  },
  {
    words: 'pools list',
    args: [],
    summary: 'the pools',
    plan: () => ({ method: 'GET', path: '/pools', all: true, view: views.pools }),
  },
  {
    words: 'pools show',
    args: ['POOL'],
    summary: "a pool's spec, ranges and claims",
    plan: ([pool]) => ({ method: 'GET', path: `/pools/${seg(pool!)}`, view: views.pool }),
  },
  {
    words: 'pools create',
    args: [],
    options: ['file'],
    required: ['file'],
    summary: 'add a pool from its JSON spec (API.md: name, namePrefix, ranges...; -: standard input)',
    plan: (_, o) => ({ method: 'POST', path: '/pools', bodyFile: o.file, view: views.pool }),
  },
  {
    words: 'pools delete',
    args: ['POOL'],
    options: ['force'],
    summary: 'delete a pool (--force: with its claims)',
    plan: ([pool], o) => ({
      method: 'DELETE',
      path: `/pools/${seg(pool!)}`,
      query: { force: o.force ? 'true' : undefined },
      view: done(`deleted pool ${pool}`),
    }),
  },
  {
    words: 'pools export',
    args: ['POOL'],
    summary: 'a pool with its claims, as JSON for pools import on another collector',
    plan: ([pool]) => ({ method: 'GET', path: `/pools/${seg(pool!)}/export`, view: views.document }),
  },
  {
    words: 'pools import',
    args: ['FILE'],
    summary: 'recreate an exported pool, every claim at its address (- reads standard input)',
    plan: ([file]) => ({ method: 'POST', path: '/pools/import', bodyFile: file, view: views.pool }),
  },
  {
    words: 'claim',
    args: ['POOL', 'CLAIM'],
    options: ['mac', 'ip'],
    summary: "a pool's address for CLAIM: the same one every time it is asked",
    plan: ([pool, claim], o) => ({
      method: 'PUT',
      path: `/pools/${seg(pool!)}/claims/${seg(claim!)}`,
      body: { mac: o.mac, ip: o.ip },
      view: views.claim,
    }),
  },
  {
    words: 'unclaim',
    args: ['POOL', 'CLAIM'],
    summary: "release a claim's address",
    plan: ([pool, claim]) => ({
      method: 'DELETE',
      path: `/pools/${seg(pool!)}/claims/${seg(claim!)}`,
      view: done(`released claim ${claim} of pool ${pool}`),
    }),
  },
  {
    words: 'nodes list',
    args: [],
    summary: 'the nodes',
    plan: () => ({ method: 'GET', path: '/nodes', all: true, view: views.nodes }),
  },
  {
    words: 'nodes show',
    args: ['ID'],
    summary: "a node's interfaces and addresses",
    plan: ([id]) => ({ method: 'GET', path: `/nodes/${seg(id!)}`, view: views.node }),
  },
  {
    words: 'nodes create',
    args: ['HOSTNAME'],
    options: ['interface'],
    summary: 'add a node; its first physical interface boots',
    plan: ([hostname], o) => ({
      method: 'POST',
      path: '/nodes',
      body: { hostname, interfaces: (o.interface ?? []).map(parseInterface) },
      view: views.node,
    }),
  },
  {
    words: 'nodes deploy',
    args: ['ID', 'SUBNET'],
    summary: 'give the boot interface its sticky address, or an auto one from SUBNET',
    plan: ([id, subnet]) => ({
      method: 'POST',
      path: `/nodes/${seg(id!)}/deploy`,
      body: { subnet },
      view: views.address,
    }),
  },
  {
    words: 'nodes release',
    args: ['ID'],
    summary: 'free auto and extra addresses and forget virtual interfaces; sticky ones stay',
    plan: ([id]) => ({ method: 'POST', path: `/nodes/${seg(id!)}/release`, view: views.node }),
  },
  {
    words: 'nodes delete',
    args: ['ID'],
    summary: 'delete a node and free everything it holds',
    plan: ([id]) => ({ method: 'DELETE', path: `/nodes/${seg(id!)}`, view: done(`deleted node ${id}`) }),
  },
  {
    words: 'conflicts list',
    args: [],
    options: ['status', 'kind', 'subnet', 'ip', 'mac', 'limit', 'cursor', 'all'],
    values: { kind: 'KIND' },
    summary: 'what the wire says against the table: one page (--limit N from --cursor), or --all',
    plan: (_, o) => {
      if (o.all && o.cursor !== undefined)
        throw new UsageError('conflicts: --all starts at the first page, not --cursor');
      wholeNumber('limit', o.limit);
      const { status, kind, subnet, ip, mac, cursor } = o;
      return {
        method: 'GET',
        path: '/conflicts',
        // All of them: in the largest pages the API serves (1000).
        query: { status, kind, subnet, ip, mac, cursor, limit: o.all && o.limit === undefined ? '1000' : o.limit },
        all: o.all === true,
        view: views.conflicts,
      };
    },
  },
  {
    words: 'conflicts show',
    args: ['ID'],
    summary: 'one conflict, with its evidence',
    plan: ([id]) => ({ method: 'GET', path: `/conflicts/${seg(id!)}`, view: views.conflict }),
  },
  conflictAction('acknowledge', 'mark a conflict as known: it stays open, alerting no more until it resolves'),
  conflictAction('resolve', 'resolve a conflict now'),
  {
    words: 'webhooks list',
    args: [],
    summary: 'the webhooks, with their last delivery and failures',
    plan: () => ({ method: 'GET', path: '/webhooks', all: true, view: views.webhooks }),
  },
  {
    words: 'webhooks create',
    args: ['URL'],
    options: ['events', 'secret', 'secret-file', 'format'],
    required: ['events'],
    oneOf: ['secret', 'secret-file'],
    summary:
      "POST the events named (or every one, '*') to URL, signed with the secret (16-256 characters);\n" +
      '      --secret-file or --secret - (standard input) keep it out of shell history (admins)',
    plan: ([url], o) => {
      const secretFile = o.secret === '-' ? '-' : o['secret-file'];
      return {
        method: 'POST',
        path: '/webhooks',
        body: {
          url,
          events: eventTypes(o.events!),
          secret: secretFile === undefined ? o.secret : undefined,
          format: o.format,
        },
        textFiles: secretFile === undefined ? undefined : { secret: secretFile },
        view: views.webhook,
      };
    },
  },
  {
    words: 'webhooks delete',
    args: ['ID'],
    summary: 'delete a webhook (admins)',
    plan: ([id]) => ({ method: 'DELETE', path: `/webhooks/${seg(id!)}`, view: done(`deleted webhook ${id}`) }),
  },
  {
    words: 'webhooks ping',
    args: ['ID'],
    summary: 'send a webhook a ping event now (admins)',
    plan: ([id]) => ({
      method: 'POST',
      path: `/webhooks/${seg(id!)}/ping`,
      view: (answer) => {
        const event = (answer as { event?: unknown } | undefined)?.event;
        return escapeText(`sent a ping to webhook ${id}${event === undefined ? '' : ` (event ${event})`}`);
      },
    }),
  },
  {
    words: 'exemptions list',
    args: [],
    summary: 'what raises no conflict because the network does it on purpose',
    plan: () => ({ method: 'GET', path: '/conflict-exemptions', all: true, view: views.exemptions }),
  },
  {
    words: 'exemptions create',
    args: [],
    options: ['ip', 'cidr', 'mac', 'kind', 'comment'],
    required: ['comment'],
    oneOf: ['ip', 'cidr'],
    repeat: ['mac', 'kind'],
    values: { kind: 'KIND' },
    summary:
      'expect these MACs (default any) to raise these kinds (default every) at IP or in CIDR: an\n' +
      '      anycast gateway, a keepalived pair; resolves the conflicts it covers (admins)',
    plan: (_, o, lists) => ({
      method: 'POST',
      path: '/conflict-exemptions',
      body: { ip: o.ip, cidr: o.cidr, macs: lists.mac, kinds: lists.kind, comment: o.comment },
      view: views.exemption,
    }),
  },
  {
    words: 'exemptions delete',
    args: ['ID'],
    summary: 'delete an exemption (admins)',
    plan: ([id]) => ({
      method: 'DELETE',
      path: `/conflict-exemptions/${seg(id!)}`,
      view: done(`deleted exemption ${id}`),
    }),
  },
  {
    words: 'dhcp-servers list',
    args: [],
    summary: 'the DHCP servers known for each segment: not rogue',
    plan: () => ({ method: 'GET', path: '/dhcp-servers', all: true, view: views.dhcpServers }),
  },
  {
    words: 'dhcp-servers create',
    args: [],
    options: ['vlan', 'outer-vlan', 'ip', 'mac', 'comment'],
    required: ['vlan'],
    summary: 'declare a DHCP server on a segment, by --ip, --mac or both (admins)',
    plan: (_, o) => {
      if (o.ip === undefined && o.mac === undefined)
        throw new UsageError('dhcp-servers create needs --ip or --mac (or both)');
      return {
        method: 'POST',
        path: '/dhcp-servers',
        body: {
          vlan: wholeNumber('vlan', o.vlan),
          outerVlan: wholeNumber('outer-vlan', o['outer-vlan']),
          ip: o.ip,
          mac: o.mac,
          comment: o.comment,
        },
        view: views.dhcpServer,
      };
    },
  },
  {
    words: 'dhcp-servers delete',
    args: ['ID'],
    summary: 'forget a DHCP server (admins)',
    plan: ([id]) => ({ method: 'DELETE', path: `/dhcp-servers/${seg(id!)}`, view: done(`deleted DHCP server ${id}`) }),
  },
  {
    words: 'events',
    args: [],
    options: ['events', 'since'],
    values: { events: 'TYPE,...' },
    summary:
      'follow the event stream, one line an event as it happens (--json: its JSON) until interrupted; --since ID first replays the events after ID',
    plan: (_, o) => {
      wholeNumber('since', o.since);
      return {
        method: 'GET',
        path: '/events',
        query: { types: o.events === undefined ? undefined : eventTypes(o.events).join(',') },
        follow: { lastEventId: o.since },
        view: views.event,
      };
    },
  },
  {
    words: 'whoami',
    args: [],
    summary: 'who the token belongs to, and its role',
    plan: () => ({ method: 'GET', path: '/me', view: views.identity }),
  },
];

/** `address IP` reads as well as `addresses show IP`. */
const ALIASES: Record<string, string> = { address: 'addresses show', conflict: 'conflicts show' };
const find = (words: string) => COMMANDS.find((c) => c.words === (ALIASES[words] ?? words));

function synopsis(command: Command): string {
  const text = (name: OptionName) =>
    specOf(name).type === 'boolean' ? `--${name}` : `--${name} ${command.values?.[name] ?? specOf(name).value}`;
  const options = (command.options ?? []).flatMap((name) => {
    if (command.oneOf?.includes(name))
      return command.oneOf[0] === name ? [`(${command.oneOf.map(text).join(' | ')})`] : [];
    if (command.required?.includes(name)) return [text(name)];
    return [specOf(name).multiple || command.repeat?.includes(name) ? `[${text(name)}]...` : `[${text(name)}]`];
  });
  // Wrapped for a 100-column terminal.
  const lines = [[command.words.replace(/ list$/, ' [list]'), ...command.args].join(' ')];
  for (const text of options) {
    if (lines.at(-1)!.length + text.length > 96) lines.push(`      ${text}`);
    else lines[lines.length - 1] += ` ${text}`;
  }
  return lines.join('\n  ');
}

export function usage(defaultConfigFile: string): string {
  const entry = (head: string, description: string) => helpEntry(head, [], description);
  const options = [
    optionsHelp([...CLIENT_OPTIONS, ...CLIENT_CONFIG_FILE]),
    `      (here: ${defaultConfigFile})`,
    optionsHelp(CLIENT_OUTPUT_OPTIONS),
    entry('-h, --help', 'this text'),
  ];
  const aliases = Object.entries(ALIASES).map(([alias, words]) =>
    entry(synopsis({ ...find(words)!, words: alias }), `the same as ${words}`),
  );
  return `usage: ipwarden [options] COMMAND [ARGUMENTS] [options]

A resource (addresses, subnets, ranges, pools, nodes, conflicts, webhooks, exemptions,
dhcp-servers) without a verb lists; SUBNET is a CIDR or an id, POOL a name or an id, ID the whole
id a list shows. A conflict's KIND is duplicate-ip, mac-mismatch, unallocated-in-use,
reserved-range-in-use, rogue-dhcp-server or foreign-subnet; VLAN 100.7 is VLAN 7 inside outer
(QinQ) VLAN 100. Table output for people; --json prints the API's answer as it is.

commands:
${[...COMMANDS.map((c) => entry(synopsis(c), c.summary)), ...aliases].join('\n')}

options, anywhere on the line (flags over environment variables over the configuration file;
every one in docs/CONFIGURATION.md):
${options.join('\n')}

exit codes: 0 success, 2 bad usage or input (the API's 4xx answers included), 1 anything else`;
}

export interface Invocation {
  help: boolean;
  json: boolean;
  /** The program's flags (--server, --token, --config, ...), for loadConfig. */
  flags: Record<string, unknown>;
  /** Undefined when no command was given. */
  call: Call | undefined;
}

function resolve(positionals: string[]): { command: Command; args: string[] } {
  const [noun = '', verb, ...rest] = positionals;
  const exact = verb === undefined ? undefined : find(`${noun} ${verb}`);
  if (exact !== undefined) return { command: exact, args: rest };
  const command = find(noun) ?? find(`${noun} list`);
  const args = positionals.slice(1);
  if (command === undefined || (command.args.length === 0 && args.length > 0))
    throw new UsageError(
      `unknown command "${escapeText(positionals.slice(0, 2).join(' '))}" (ipwarden --help lists them)`,
    );
  return { command, args };
}

/** A command line as a Call; throws a UsageError for anything it does not understand. */
export function parseCommandLine(argv: string[]): Invocation {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...GLOBAL_OPTIONS, ...PARSED_OPTIONS },
    allowPositionals: true,
    strict: true,
  });
  const flags: Record<string, unknown> = Object.fromEntries(
    Object.entries(values).filter(([name]) => name in GLOBAL_OPTIONS),
  );
  const help = flags.help === true || positionals[0] === 'help';
  const invocation = { help, json: flags.json === true, flags, call: undefined };
  if (help || positionals.length === 0) return invocation;
  const { command, args } = resolve(positionals);
  const given: Record<string, unknown> = {};
  const lists: Lists = {};
  for (const [key, value] of Object.entries(values)) {
    if (key in GLOBAL_OPTIONS) continue;
    const name = key as OptionName;
    if (!command.options?.includes(name)) throw new UsageError(`${command.words} takes no --${name}`);
    if (!Array.isArray(value)) given[name] = value;
    else {
      lists[name] = value as string[];
      if (specOf(name).multiple) given[name] = value;
      else if (command.repeat?.includes(name)) continue;
      else if (value.length > 1) throw new UsageError(`${command.words} takes --${name} once`);
      else given[name] = value[0];
    }
  }
  for (const name of command.required ?? []) {
    if (values[name] === undefined) throw new UsageError(`${command.words} needs --${name}`);
  }
  if (command.oneOf !== undefined) {
    const given = command.oneOf.filter((name) => values[name] !== undefined).length;
    const choice = command.oneOf.map((name) => `--${name}`).join(' or ');
    if (given === 0) throw new UsageError(`${command.words} needs ${choice}`);
    if (given > 1) throw new UsageError(`${command.words} takes ${choice}, not both`);
  }
  if (args.length !== command.args.length)
    throw new UsageError(`usage: ipwarden ${synopsis(command).replace(/\n\s+/g, ' ')}`);
  return { ...invocation, call: command.plan(args, given as Values, lists) };
}
