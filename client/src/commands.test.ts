import { describe, expect, it } from 'vitest';
import { parseCommandLine, parseInterface, usage } from './commands.js';
import { UsageError } from './errors.js';

/** The request a command line makes, without its view. */
function request(...argv: string[]) {
  const { call } = parseCommandLine(argv);
  if (call === undefined) throw new Error('no call');
  const { view: _, ...rest } = call;
  return JSON.parse(JSON.stringify(rest)); // as sent: undefined fields dropped
}

describe('parseCommandLine', () => {
  it.each([
    [['reserve', '10.0.0.0/24'], { method: 'POST', path: '/subnets/10.0.0.0%2F24/reserve', body: {} }],
    [
      ['reserve', '10.0.0.0/24', '--ip', '10.0.0.7', '--hostname', 'vip', '--mac', '02:00:00:00:00:01'],
      {
        method: 'POST',
        path: '/subnets/10.0.0.0%2F24/reserve',
        body: { ip: '10.0.0.7', hostname: 'vip', mac: '02:00:00:00:00:01' },
      },
    ],
    [['release', '10.0.0.7'], { method: 'DELETE', path: '/addresses/10.0.0.7', query: {} }],
    [
      ['release', '2001:db8::7', '--subnet', '2001:db8::/64'],
      { method: 'DELETE', path: '/addresses/2001%3Adb8%3A%3A7', query: { subnet: '2001:db8::/64' } },
    ],
    [['agents', 'list'], { method: 'GET', path: '/agents' }],
    [['agents', 'show', 'a1'], { method: 'GET', path: '/agents/a1' }],
    [['addresses'], { method: 'GET', path: '/addresses', query: { limit: '1000' }, all: true }],
    [
      ['addresses', 'list', '--kind', 'reserved', '--owner', 'ursula'],
      { method: 'GET', path: '/addresses', query: { kind: 'reserved', owner: 'ursula', limit: '1000' }, all: true },
    ],
    [
      ['addresses', '--limit', '10', '--cursor', 'abc'],
      { method: 'GET', path: '/addresses', query: { cursor: 'abc', limit: '10' }, all: false },
    ],
    [['addresses', 'show', '10.0.0.7'], { method: 'GET', path: '/addresses/10.0.0.7', query: {} }],
    [['address', '10.0.0.7'], { method: 'GET', path: '/addresses/10.0.0.7', query: {} }],
    [
      ['addresses', 'create', 'lab', '--kind', 'device', '--mac', '02:00:00:00:00:09', '--force'],
      {
        method: 'POST',
        path: '/addresses',
        body: { subnet: 'lab', kind: 'device', mac: '02:00:00:00:00:09', force: true },
      },
    ],
    [['subnets'], { method: 'GET', path: '/subnets', query: {}, all: true }],
    [['subnets', 'list', '--vlan', '7'], { method: 'GET', path: '/subnets', query: { vlan: '7' }, all: true }],
    [['subnets', 'show', '10.0.0.0/24'], { method: 'GET', path: '/subnets/10.0.0.0%2F24' }],
    [
      [
        'subnets',
        'create',
        '10.0.0.0/24',
        '--vlan',
        '7',
        '--gateway',
        '10.0.0.1',
        '--dns',
        '10.0.0.2',
        '--dns',
        '10.0.0.3',
      ],
      {
        method: 'POST',
        path: '/subnets',
        body: { cidr: '10.0.0.0/24', vlan: 7, gateway: '10.0.0.1', dnsServers: ['10.0.0.2', '10.0.0.3'] },
      },
    ],
    [['subnets', 'delete', '10.0.0.0/24'], { method: 'DELETE', path: '/subnets/10.0.0.0%2F24', query: {} }],
    [
      ['subnets', 'delete', '10.0.0.0/24', '--force'],
      { method: 'DELETE', path: '/subnets/10.0.0.0%2F24', query: { force: 'true' } },
    ],
    [['subnets', 'utilization', 'lab'], { method: 'GET', path: '/subnets/lab/utilization' }],
    [['ranges', '10.0.0.0/24'], { method: 'GET', path: '/subnets/10.0.0.0%2F24/ranges', all: true }],
    [['ranges', 'list', '10.0.0.0/24'], { method: 'GET', path: '/subnets/10.0.0.0%2F24/ranges', all: true }],
    [
      ['ranges', 'create', '10.0.0.0/24', '10.0.0.100', '10.0.0.150', '--purpose', 'dynamic'],
      {
        method: 'POST',
        path: '/subnets/10.0.0.0%2F24/ranges',
        body: { start: '10.0.0.100', end: '10.0.0.150', purpose: 'dynamic' },
      },
    ],
    [['ranges', 'delete', 'r1'], { method: 'DELETE', path: '/ranges/r1' }],
    [['pools'], { method: 'GET', path: '/pools', all: true }],
    [['pools', 'show', 'workers'], { method: 'GET', path: '/pools/workers' }],
    [['pools', 'create', '--file', 'spec.json'], { method: 'POST', path: '/pools', bodyFile: 'spec.json' }],
    [['pools', 'delete', 'workers', '--force'], { method: 'DELETE', path: '/pools/workers', query: { force: 'true' } }],
    [['pools', 'export', 'workers'], { method: 'GET', path: '/pools/workers/export' }],
    [['pools', 'import', '-'], { method: 'POST', path: '/pools/import', bodyFile: '-' }],
    [['claim', 'workers', 'w1'], { method: 'PUT', path: '/pools/workers/claims/w1', body: {} }],
    [
      ['claim', 'workers', 'w1', '--mac', '02:00:00:00:00:01'],
      { method: 'PUT', path: '/pools/workers/claims/w1', body: { mac: '02:00:00:00:00:01' } },
    ],
    [['unclaim', 'workers', 'w1'], { method: 'DELETE', path: '/pools/workers/claims/w1' }],
    [['nodes'], { method: 'GET', path: '/nodes', all: true }],
    [['nodes', 'show', 'n1'], { method: 'GET', path: '/nodes/n1' }],
    [
      ['nodes', 'create', 'web1', '--interface', '02:00:00:00:00:01,eth0', '--interface', '02:00:00:00:00:02,virtual'],
      {
        method: 'POST',
        path: '/nodes',
        body: {
          hostname: 'web1',
          interfaces: [
            { mac: '02:00:00:00:00:01', name: 'eth0' },
            { mac: '02:00:00:00:00:02', virtual: true },
          ],
        },
      },
    ],
    [
      ['nodes', 'deploy', 'n1', '10.0.0.0/24'],
      { method: 'POST', path: '/nodes/n1/deploy', body: { subnet: '10.0.0.0/24' } },
    ],
    [['nodes', 'release', 'n1'], { method: 'POST', path: '/nodes/n1/release' }],
    [['nodes', 'delete', 'n1'], { method: 'DELETE', path: '/nodes/n1' }],
    [['conflicts'], { method: 'GET', path: '/conflicts', query: {}, all: false }],
    [
      ['conflicts', 'list', '--status', 'open', '--kind', 'duplicate-ip', '--subnet', '10.0.0.0/24', '--limit', '20'],
      {
        method: 'GET',
        path: '/conflicts',
        query: { status: 'open', kind: 'duplicate-ip', subnet: '10.0.0.0/24', limit: '20' },
        all: false,
      },
    ],
    [
      ['conflicts', '--ip', '10.0.0.7', '--mac', '02:00:00:00:00:01', '--cursor', 'c2'],
      {
        method: 'GET',
        path: '/conflicts',
        query: { ip: '10.0.0.7', mac: '02:00:00:00:00:01', cursor: 'c2' },
        all: false,
      },
    ],
    [['conflicts', '--all'], { method: 'GET', path: '/conflicts', query: { limit: '1000' }, all: true }],
    [['conflicts', '--all', '--limit', '50'], { method: 'GET', path: '/conflicts', query: { limit: '50' }, all: true }],
    [['conflicts', 'show', 'c1'], { method: 'GET', path: '/conflicts/c1' }],
    [['conflict', 'c1'], { method: 'GET', path: '/conflicts/c1' }],
    [['conflicts', 'acknowledge', 'c1'], { method: 'POST', path: '/conflicts/c1/acknowledge', body: {} }],
    [
      ['conflicts', 'resolve', 'c1', '--comment', 'moved the VM'],
      { method: 'POST', path: '/conflicts/c1/resolve', body: { comment: 'moved the VM' } },
    ],
    [['webhooks'], { method: 'GET', path: '/webhooks', all: true }],
    [
      [
        'webhooks',
        'create',
        'https://hooks.example/iw',
        '--events',
        'conflict.opened, conflict.resolved',
        '--secret',
        's',
      ],
      {
        method: 'POST',
        path: '/webhooks',
        body: { url: 'https://hooks.example/iw', events: ['conflict.opened', 'conflict.resolved'], secret: 's' },
      },
    ],
    [
      ['webhooks', 'create', 'https://hooks.example/iw', '--events', '*', '--secret-file', 'f', '--format', 'slack'],
      {
        method: 'POST',
        path: '/webhooks',
        body: { url: 'https://hooks.example/iw', events: ['*'], format: 'slack' },
        textFiles: { secret: 'f' },
      },
    ],
    [
      ['webhooks', 'create', 'https://hooks.example/iw', '--events', '*', '--secret', '-'],
      {
        method: 'POST',
        path: '/webhooks',
        body: { url: 'https://hooks.example/iw', events: ['*'] },
        textFiles: { secret: '-' },
      },
    ],
    [['webhooks', 'delete', 'w1'], { method: 'DELETE', path: '/webhooks/w1' }],
    [['webhooks', 'ping', 'w1'], { method: 'POST', path: '/webhooks/w1/ping' }],
    [['exemptions'], { method: 'GET', path: '/conflict-exemptions', all: true }],
    [
      ['exemptions', 'create', '--ip', '10.0.0.1', '--comment', 'anycast gateway'],
      { method: 'POST', path: '/conflict-exemptions', body: { ip: '10.0.0.1', comment: 'anycast gateway' } },
    ],
    [
      [
        'exemptions',
        'create',
        '--cidr',
        '10.0.0.0/30',
        '--mac',
        '02:00:00:00:00:01',
        '--kind',
        'duplicate-ip',
        '--mac',
        '02:00:00:00:00:02',
        '--comment',
        'keepalived pair',
      ],
      {
        method: 'POST',
        path: '/conflict-exemptions',
        body: {
          cidr: '10.0.0.0/30',
          macs: ['02:00:00:00:00:01', '02:00:00:00:00:02'],
          kinds: ['duplicate-ip'],
          comment: 'keepalived pair',
        },
      },
    ],
    [['exemptions', 'delete', 'x1'], { method: 'DELETE', path: '/conflict-exemptions/x1' }],
    [['dhcp-servers'], { method: 'GET', path: '/dhcp-servers', all: true }],
    [
      ['dhcp-servers', 'create', '--vlan', '7', '--ip', '10.0.0.2'],
      { method: 'POST', path: '/dhcp-servers', body: { vlan: 7, ip: '10.0.0.2' } },
    ],
    [
      [
        'dhcp-servers',
        'create',
        '--vlan',
        '7',
        '--outer-vlan',
        '100',
        '--mac',
        '02:00:00:00:00:53',
        '--comment',
        'kea',
      ],
      {
        method: 'POST',
        path: '/dhcp-servers',
        body: { vlan: 7, outerVlan: 100, mac: '02:00:00:00:00:53', comment: 'kea' },
      },
    ],
    [['dhcp-servers', 'delete', 'd1'], { method: 'DELETE', path: '/dhcp-servers/d1' }],
    [['whoami'], { method: 'GET', path: '/me' }],
    [['events'], { method: 'GET', path: '/events', query: {}, follow: {} }],
    [
      ['events', '--events', 'conflict.opened, conflict.resolved', '--since', '41'],
      {
        method: 'GET',
        path: '/events',
        query: { types: 'conflict.opened,conflict.resolved' },
        follow: { lastEventId: '41' },
      },
    ],
  ])('%j asks the API for what it says', (argv, expected) => {
    expect(request(...argv)).toEqual(expected);
  });

  it('takes the program options anywhere on the line, apart from the command', () => {
    const invocation = parseCommandLine(['--json', 'subnets', '--server', 'http://ipam:8080', 'show', 'lab']);
    expect(invocation.json).toBe(true);
    expect(invocation.flags).toEqual({ json: true, server: 'http://ipam:8080' });
    expect(invocation.call?.path).toBe('/subnets/lab');
  });

  it('asks for help with --help, -h or help, and has no call without a command', () => {
    for (const argv of [['--help'], ['-h'], ['help'], ['reserve', '--help']]) {
      expect(parseCommandLine(argv)).toMatchObject({ help: true, call: undefined });
    }
    expect(parseCommandLine([])).toMatchObject({ help: false, call: undefined });
  });

  it.each([
    [['bogus'], 'unknown command "bogus"'],
    [['subnets', 'shwo', 'lab'], 'unknown command "subnets shwo"'],
    [['reserve'], 'usage: ipwarden reserve SUBNET [--ip IP]'],
    [['reserve', 'a', 'b'], 'usage: ipwarden reserve SUBNET'],
    [['ranges'], 'usage: ipwarden ranges [list] SUBNET'],
    [['reserve', 'lab', '--force'], 'reserve takes no --force'],
    [['ranges', 'create', 'lab', '10.0.0.1', '10.0.0.9'], 'ranges create needs --purpose'],
    [['pools', 'create'], 'pools create needs --file'],
    [['subnets', 'create', '10.0.0.0/24', '--vlan', 'seven'], '--vlan: a whole number, not "seven"'],
    [['addresses', '--limit', '-1'], '--limit'],
    [['nodes', 'create', 'web1', '--interface', ',eth0'], '--interface ",eth0": MAC[,NAME][,virtual]'],
    [['nodes', 'create', 'web1', '--interface', 'aa,eth0,eth1'], 'MAC[,NAME][,virtual]'],
    [['conflicts', '--all', '--cursor', 'c2'], 'conflicts: --all starts at the first page, not --cursor'],
    [['conflicts', '--limit', 'ten'], '--limit: a whole number, not "ten"'],
    [['conflicts', 'show'], 'usage: ipwarden conflicts show ID'],
    [['conflicts', 'acknowledge', 'c1', '--force'], 'conflicts acknowledge takes no --force'],
    [['webhooks', 'create', 'https://h', '--secret', 's'], 'webhooks create needs --events'],
    [['webhooks', 'create', 'https://h', '--events', '*'], 'webhooks create needs --secret or --secret-file'],
    [
      ['webhooks', 'create', 'https://h', '--events', '*', '--secret', 's', '--secret-file', 'f'],
      'webhooks create takes --secret or --secret-file, not both',
    ],
    [['webhooks', 'create', 'https://h', '--events', 'a,,b', '--secret', 's'], '--events "a,,b": event types'],
    [['webhooks', 'create', '--events', '*', '--secret', 's'], 'usage: ipwarden webhooks create URL --events'],
    [['exemptions', 'create', '--comment', 'c'], 'exemptions create needs --ip or --cidr'],
    [
      ['exemptions', 'create', '--ip', '10.0.0.1', '--cidr', '10.0.0.0/30', '--comment', 'c'],
      'exemptions create takes --ip or --cidr, not both',
    ],
    [['exemptions', 'create', '--ip', '10.0.0.1'], 'exemptions create needs --comment'],
    [['dhcp-servers', 'create', '--vlan', '7'], 'dhcp-servers create needs --ip or --mac (or both)'],
    [['dhcp-servers', 'create', '--ip', '10.0.0.2'], 'dhcp-servers create needs --vlan'],
    [['dhcp-servers', 'create', '--vlan', '7', '--outer-vlan', 'x', '--ip', 'i'], '--outer-vlan: a whole number'],
    [['reserve', 'lab', '--ip', '10.0.0.7', '--ip', '10.0.0.8'], 'reserve takes --ip once'],
    [['dhcp-servers', 'create', '--vlan', '7', '--mac', 'a', '--mac', 'b'], 'dhcp-servers create takes --mac once'],
    [['whoami', '--bogus'], "Unknown option '--bogus'"],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrow(message);
  });

  it('refuses with a UsageError or a parseArgs error, both exit code 2', () => {
    expect(() => parseCommandLine(['bogus'])).toThrow(UsageError);
    expect(() => parseCommandLine(['--bogus'])).toThrow(
      expect.objectContaining({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }),
    );
  });

  it('escapes a command name it does not know before echoing it', () => {
    expect(() => parseCommandLine(['\x1b[2J'])).toThrow('unknown command "\\x1b[2J"');
  });
});

describe('parseInterface', () => {
  it.each([
    ['02:00:00:00:00:01', { mac: '02:00:00:00:00:01' }],
    ['02:00:00:00:00:01,eth0', { mac: '02:00:00:00:00:01', name: 'eth0' }],
    ['02:00:00:00:00:01,virtual', { mac: '02:00:00:00:00:01', virtual: true }],
    ['02:00:00:00:00:01,eth0.7,virtual', { mac: '02:00:00:00:00:01', name: 'eth0.7', virtual: true }],
    ['02:00:00:00:00:01,virtual,eth0.7', { mac: '02:00:00:00:00:01', name: 'eth0.7', virtual: true }],
  ])('reads %s', (spec, nic) => {
    expect(parseInterface(spec)).toEqual(nic);
  });
});

describe('usage', () => {
  it('names every command, option and variable, and the configuration file', () => {
    const text = usage('/home/u/.config/ipwarden/config.json');
    for (const words of [
      'reserve SUBNET',
      'release IP',
      'claim POOL CLAIM',
      'unclaim POOL CLAIM',
      'whoami',
      'conflicts [list] [--status open|acknowledged|resolved] [--kind KIND]',
      'conflicts show ID',
      'conflicts acknowledge ID [--comment TEXT]',
      'conflicts resolve ID [--comment TEXT]',
      'webhooks [list]',
      'webhooks create URL --events TYPE,...|* (--secret SECRET | --secret-file FILE)',
      'webhooks delete ID',
      'webhooks ping ID',
      'exemptions [list]',
      'exemptions create (--ip IP | --cidr CIDR) [--mac MAC]... [--kind KIND]... --comment TEXT',
      'exemptions delete ID',
      'dhcp-servers [list]',
      'dhcp-servers create --vlan VLAN [--outer-vlan VLAN] [--ip IP] [--mac MAC] [--comment TEXT]',
      'dhcp-servers delete ID',
    ]) {
      expect(text).toContain(`  ${words}`);
    }
    for (const words of ['--server URL', 'IPWARDEN_SERVER', '--token TOKEN', 'IPWARDEN_TOKEN', 'IPWARDEN_CONFIG']) {
      expect(text).toContain(words);
    }
    expect(text).toContain('/home/u/.config/ipwarden/config.json');
    expect(Math.max(...text.split('\n').map((line) => line.length))).toBeLessThanOrEqual(100);
  });
});
