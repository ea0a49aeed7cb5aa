import { describe, expect, it } from 'vitest';
import { type DhcpMessage, DhcpMessageType, decodeDhcp } from './dhcp.js';
import { Malformed } from './malformed.js';
import { bootp, concat, hex } from './test-bytes.js';

// RFC 2131 figure 1, up to chaddr: op, htype 1, hlen 6, hops; xid; secs, flags (broadcast);
// ciaddr, yiaddr, siaddr, giaddr; chaddr 00:11:22:33:44:55 padded to 16 bytes.
const CLIENT_HEAD =
  '0101 0600 3903 f326 0000 8000 0000 0000 0000 0000 0000 0000 0000 0000 0011 2233 4455 0000 0000 0000 0000 0000';
// A reply through a relay: yiaddr 192.0.2.100, siaddr 192.0.2.1, giaddr 10.0.0.1.
const SERVER_HEAD =
  '0201 0600 3903 f326 0000 8000 0000 0000 c000 0264 c000 0201 0a00 0001 0011 2233 4455 0000 0000 0000 0000 0000';
// A renewing client: ciaddr 192.0.2.100.
const RENEWING_HEAD =
  '0101 0600 dead beef 0000 0000 c000 0264 0000 0000 0000 0000 0000 0000 0011 2233 4455 0000 0000 0000 0000 0000';

const HOSTNAME = '0c07 7072 696e 7465 72'; // option 12 "printer"
const VENDOR_CLASS = '3c08 4d53 4654 2035 2e30'; // option 60 "MSFT 5.0"
const PRL = '3704 0103 060f'; // option 55: subnet mask, router, DNS, domain name
const REQUESTED_IP = '3204 c000 0264'; // option 50: 192.0.2.100
const SERVER_ID = '3604 c000 0201'; // option 54: 192.0.2.1
const CLIENT_ID = '3d07 0100 1122 3344 55'; // option 61, not read
const LEASE = '3304 0000 0e10 0104 ffff ff00 0304 c000 0201'; // options 51, 1, 3: not read

function decode(bytes: Uint8Array): DhcpMessage | Malformed {
  return decodeDhcp(bytes, 0, bytes.length);
}

const none = {
  clientIp: undefined,
  yourIp: undefined,
  nextServerIp: undefined,
  relayIp: undefined,
  messageType: undefined,
  hostname: undefined,
  requestedIp: undefined,
  serverId: undefined,
  vendorClass: undefined,
  parameterRequestList: undefined,
};

describe('decodeDhcp', () => {
  it('decodes a DISCOVER with hostname, requested IP, vendor class and parameter request list', () => {
    const discover = bootp(CLIENT_HEAD, `3501 01 ${CLIENT_ID} ${REQUESTED_IP} ${HOSTNAME} ${VENDOR_CLASS} ${PRL} ff`);
    expect(decode(discover)).toEqual({
      ...none,
      op: 1,
      xid: 0x3903f326,
      chaddr: '00:11:22:33:44:55',
      messageType: DhcpMessageType.DISCOVER,
      hostname: 'printer',
      requestedIp: '192.0.2.100',
      vendorClass: 'MSFT 5.0',
      parameterRequestList: [1, 3, 6, 15],
    });
  });

  it('decodes a REQUEST naming the server it chose', () => {
    const request = bootp(CLIENT_HEAD, `3501 03 ${REQUESTED_IP} ${SERVER_ID} ${HOSTNAME} ${PRL} ff`);
    expect(decode(request)).toMatchObject({
      messageType: DhcpMessageType.REQUEST,
      requestedIp: '192.0.2.100',
      serverId: '192.0.2.1',
      hostname: 'printer',
    });
  });

  it('decodes a renewing REQUEST: ciaddr set, no requested IP (RFC 2131 4.3.2)', () => {
    const request = bootp(RENEWING_HEAD, '3501 03 ff');
    expect(decode(request)).toMatchObject({
      xid: 0xdeadbeef,
      clientIp: '192.0.2.100',
      requestedIp: undefined,
      messageType: DhcpMessageType.REQUEST,
    });
  });

  it('decodes an OFFER through a relay: server id, yiaddr, siaddr, giaddr', () => {
    const offer = bootp(SERVER_HEAD, `3501 02 ${SERVER_ID} ${LEASE} ff`);
    expect(decode(offer)).toEqual({
      ...none,
      op: 2,
      xid: 0x3903f326,
      chaddr: '00:11:22:33:44:55',
      yourIp: '192.0.2.100',
      nextServerIp: '192.0.2.1',
      relayIp: '10.0.0.1',
      messageType: DhcpMessageType.OFFER,
      serverId: '192.0.2.1',
    });
  });

  it('decodes an ACK', () => {
    const ack = bootp(SERVER_HEAD, `3501 05 ${SERVER_ID} ${LEASE} ${HOSTNAME} ff`);
    expect(decode(ack)).toMatchObject({ messageType: DhcpMessageType.ACK, serverId: '192.0.2.1', hostname: 'printer' });
  });

  it.each<[string, Uint8Array, Partial<DhcpMessage>]>([
    [
      'plain BOOTP (RFC 951): no magic cookie, no options, no message type',
      bootp(CLIENT_HEAD, '0000 0000 0000 0000', { cookie: false }),
      { op: 1, chaddr: '00:11:22:33:44:55', messageType: undefined, hostname: undefined },
    ],
    [
      'BOOTP whose vendor area looks like options but lacks the cookie: the options are not read',
      bootp(CLIENT_HEAD, `3501 01 ${HOSTNAME} ff`, { cookie: false }),
      { messageType: undefined, hostname: undefined },
    ],
    ['the 236-byte fixed part alone', bootp(CLIENT_HEAD, '', { cookie: false }), { messageType: undefined }],
    ['a cookie without options', bootp(CLIENT_HEAD, ''), { messageType: undefined }],
    [
      'options without an END option (a capture cut by snaplen at an option boundary)',
      bootp(CLIENT_HEAD, `3501 01 ${HOSTNAME}`),
      { messageType: 1, hostname: 'printer' },
    ],
    [
      'pad options between options (RFC 2132 3.1)',
      bootp(CLIENT_HEAD, `00 00 3501 01 00 ${HOSTNAME} 00 ff`),
      { messageType: 1, hostname: 'printer' },
    ],
    [
      'nothing after END, even bytes that look like options (RFC 2132 3.2)',
      bootp(CLIENT_HEAD, `3501 01 ff ${HOSTNAME} 0c ff`),
      { messageType: 1, hostname: undefined },
    ],
    [
      'a hostname split over two options, concatenated (RFC 3396)',
      bootp(CLIENT_HEAD, '3501 01 0c03 7072 69 3704 0103 060f 0c04 6e74 6572 3701 2a ff'),
      { hostname: 'printer', parameterRequestList: [1, 3, 6, 15, 42] },
    ],
    [
      'a requested IP split over two options (RFC 3396)',
      bootp(CLIENT_HEAD, '3501 03 3202 c000 3202 0264 ff'),
      { requestedIp: '192.0.2.100' },
    ],
    [
      'options overloaded into file (option 52 = 1, RFC 2132 9.3)',
      bootp(CLIENT_HEAD, '3501 01 3401 01 ff', { file: `${HOSTNAME} ${VENDOR_CLASS} ff` }),
      { hostname: 'printer', vendorClass: 'MSFT 5.0' },
    ],
    [
      'options overloaded into sname (option 52 = 2)',
      bootp(CLIENT_HEAD, '3501 01 3401 02 ff', { sname: `${HOSTNAME} ff`, file: `${VENDOR_CLASS} ff` }),
      { hostname: 'printer', vendorClass: undefined },
    ],
    [
      'split options over options, file and sname, joined in that order (RFC 2131 4.1, RFC 3396 5)',
      bootp(CLIENT_HEAD, '3501 01 3401 03 0c02 7072 ff', { file: '0c03 696e 74 ff', sname: '0c02 6572 ff' }),
      { hostname: 'printer' },
    ],
    [
      'overloaded fields without an END, ended by their size',
      bootp(CLIENT_HEAD, '3501 01 3401 02 ff', { sname: `${'00'.repeat(53)} ${HOSTNAME}` }),
      { hostname: 'printer' },
    ],
    [
      'a hostname ending in NUL padding, without it',
      bootp(CLIENT_HEAD, '3501 01 0c09 7072 696e 7465 7200 00 ff'),
      { hostname: 'printer' },
    ],
    ['a UTF-8 hostname', bootp(CLIENT_HEAD, '3501 01 0c05 6361 66c3 a9 ff'), { hostname: 'café' }],
    ['a vendor class as Latin-1 bytes', bootp(CLIENT_HEAD, '3501 01 3c04 6361 66e9 ff'), { vendorClass: 'café' }],
    ['an empty hostname', bootp(CLIENT_HEAD, '3501 01 0c00 ff'), { hostname: '' }],
    ['an empty parameter request list', bootp(CLIENT_HEAD, '3501 01 3700 ff'), { parameterRequestList: [] }],
    [
      'a non-Ethernet client (htype 6, IEEE 802): no chaddr',
      bootp(CLIENT_HEAD.replace('0101 0600', '0106 0600'), '3501 01 ff'),
      { chaddr: undefined },
    ],
    [
      'an Ethernet htype with a hardware address length other than 6: no chaddr',
      bootp(CLIENT_HEAD.replace('0101 0600', '0101 1000'), '3501 01 ff'),
      { chaddr: undefined },
    ],
    [
      'an overload option that does not overload (value 0), ignored',
      bootp(CLIENT_HEAD, '3501 01 3401 00 ff', { file: `${HOSTNAME} ff` }),
      { hostname: undefined },
    ],
  ])('decodes %s', (_name, bytes, want) => {
    expect(decode(bytes)).toMatchObject(want);
  });

  it.each([
    ['empty input', new Uint8Array(0), new Malformed('dhcp', 'truncated: 0 of 236 bytes')],
    [
      'a fixed part cut at 235 bytes',
      bootp(CLIENT_HEAD, '', { cookie: false }).subarray(0, 235),
      new Malformed('dhcp', 'truncated: 235 of 236 bytes'),
    ],
    [
      'op 3',
      bootp(`03${CLIENT_HEAD.slice(2)}`, '3501 01 ff'),
      new Malformed('dhcp', 'op 3 is neither BOOTREQUEST nor BOOTREPLY'),
    ],
    [
      'op 0',
      bootp(`00${CLIENT_HEAD.slice(2)}`, '', { cookie: false }),
      new Malformed('dhcp', 'op 0 is neither BOOTREQUEST nor BOOTREPLY'),
    ],
    [
      'an option running past the end',
      bootp(CLIENT_HEAD, '3501 01 0c10 7072 696e'),
      new Malformed('dhcp', 'option 12 of 16 bytes runs past the end'),
    ],
    [
      'an option code with no length byte',
      bootp(CLIENT_HEAD, '3501 01 0c'),
      new Malformed('dhcp', 'option 12 has no length'),
    ],
    [
      'an option running past the end of the overloaded file field',
      bootp(CLIENT_HEAD, '3501 01 3401 01 ff', { file: `${'00'.repeat(124)} 0c07 7072` }),
      new Malformed('dhcp', 'option 12 of 7 bytes runs past the end'),
    ],
    [
      'an option running past the end of the overloaded sname field',
      bootp(CLIENT_HEAD, '3501 01 3401 02 ff', { sname: `${'00'.repeat(63)} 0c` }),
      new Malformed('dhcp', 'option 12 has no length'),
    ],
    [
      'a message type of 2 bytes',
      bootp(CLIENT_HEAD, '3502 0101 ff'),
      new Malformed('dhcp', 'message type option of 2 bytes (want 1)'),
    ],
    [
      'a message type split in two (RFC 3396 joins it to 2 bytes)',
      bootp(CLIENT_HEAD, '3501 01 3501 01 ff'),
      new Malformed('dhcp', 'message type option of 2 bytes (want 1)'),
    ],
    [
      'an empty message type',
      bootp(CLIENT_HEAD, '3500 ff'),
      new Malformed('dhcp', 'message type option of 0 bytes (want 1)'),
    ],
    [
      'a requested IP of 3 bytes',
      bootp(CLIENT_HEAD, '3501 01 3203 c000 02 ff'),
      new Malformed('dhcp', 'option 50 of 3 bytes (want 4)'),
    ],
    [
      'a server identifier of 5 bytes',
      bootp(SERVER_HEAD, '3501 02 3605 c000 0201 00 ff'),
      new Malformed('dhcp', 'option 54 of 5 bytes (want 4)'),
    ],
  ])('reports %s as malformed', (_name, bytes, want) => {
    expect(decode(bytes)).toEqual(want);
  });

  it('reports every truncation inside the fixed part as malformed', () => {
    const bytes = bootp(CLIENT_HEAD, `3501 01 ${HOSTNAME} ff`);
    for (let n = 0; n < 236; n++) {
      expect(decodeDhcp(bytes, 0, n), `${n} bytes`).toEqual(new Malformed('dhcp', `truncated: ${n} of 236 bytes`));
    }
  });

  it('decodes what it can of a message cut inside the options, and never throws', () => {
    const bytes = bootp(CLIENT_HEAD, `3501 01 ${REQUESTED_IP} ${HOSTNAME} ${VENDOR_CLASS} ${PRL} ff`);
    for (let n = 236; n <= bytes.length; n++) {
      const got = decodeDhcp(bytes, 0, n);
      expect(got instanceof Malformed ? got.reason : got.op, `${n} bytes`).toBeTruthy();
    }
    // Cut in the middle of the hostname: the option runs past the end.
    expect(decodeDhcp(bytes, 0, 240 + 3 + 6 + 4)).toEqual(
      new Malformed('dhcp', 'option 12 of 7 bytes runs past the end'),
    );
  });

  it('reads only between offset and end of a larger buffer', () => {
    const message = bootp(CLIENT_HEAD, `3501 01 ${HOSTNAME}`);
    const bytes = concat(hex('0101 0600'), message, hex('0c02 2121 ff'));
    expect(decodeDhcp(bytes, 4, 4 + message.length)).toEqual(decode(message));
    expect(decodeDhcp(bytes, 4, 4 + message.length)).toMatchObject({ hostname: 'printer' });
  });
});
