import { describe, expect, it } from 'vitest';
import { Malformed } from './malformed.js';
import { decodeNdp, type NdpMessage, NdpType } from './ndp.js';
import { concat, hex } from './test-bytes.js';

// ICMPv6 bodies (checksums zero: the decoder leaves them to the kernel and libpcap's filter).
const TARGET = 'fe80 0000 0000 0000 0266 77ff fe88 99aa'; // fe80::266:77ff:fe88:99aa
const SLLA = '0101 0011 2233 4455'; // RFC 4861 4.6.1, type 1, length 1 (8 bytes)
const TLLA = '0201 6677 8899 aabb'; // type 2
const MTU = '0501 0000 0000 05dc'; // RFC 4861 4.6.4
const NONCE = '0e01 0102 0304 0506'; // RFC 3971 5.3.2, unknown to the decoder
// RFC 4861 4.6.2: prefix length 64, L and A set, valid 2592000 s, preferred 604800 s.
const PREFIX_1 = '0304 40c0 0027 8d00 0009 3a80 0000 0000 2001 0db8 0001 0000 0000 0000 0000 0000';
const PREFIX_2 = '0304 30c0 0027 8d00 0009 3a80 0000 0000 fd00 0000 0042 0000 0000 0000 0000 0000';

const NS = `8700 0000 0000 0000 ${TARGET}`; // RFC 4861 4.3
const NA = `8800 0000 6000 0000 ${TARGET}`; // RFC 4861 4.4, S and O set
const RS = '8500 0000 0000 0000'; // RFC 4861 4.1
const RA = '8600 0000 4000 0708 0000 0000 0000 0000'; // RFC 4861 4.2, router lifetime 1800 s
const REDIRECT = `8900 0000 0000 0000 ${TARGET} 2001 0db8 0000 0000 0000 0000 0000 0042`; // RFC 4861 4.5

function decode(text: string): NdpMessage | Malformed | undefined {
  const bytes = hex(text);
  return decodeNdp(bytes, 0, bytes.length);
}

describe('decodeNdp', () => {
  it.each<[string, string, NdpMessage]>([
    [
      'a neighbor solicitation with a source link-layer option',
      `${NS} ${SLLA}`,
      {
        type: NdpType.NEIGHBOR_SOLICITATION,
        code: 0,
        target: 'fe80::266:77ff:fe88:99aa',
        sourceLinkLayer: '00:11:22:33:44:55',
      },
    ],
    [
      'a DAD neighbor solicitation: no options (RFC 4861 4.3 forbids SLLA from ::)',
      NS,
      { type: NdpType.NEIGHBOR_SOLICITATION, code: 0, target: 'fe80::266:77ff:fe88:99aa' },
    ],
    [
      'a solicited neighbor advertisement with a target link-layer option',
      `${NA} ${TLLA}`,
      {
        type: NdpType.NEIGHBOR_ADVERTISEMENT,
        code: 0,
        target: 'fe80::266:77ff:fe88:99aa',
        targetLinkLayer: '66:77:88:99:aa:bb',
        router: false,
        solicited: true,
        override: true,
      },
    ],
    [
      'an unsolicited advertisement from a router (R and O set)',
      `8800 0000 a000 0000 ${TARGET}`,
      {
        type: NdpType.NEIGHBOR_ADVERTISEMENT,
        code: 0,
        target: 'fe80::266:77ff:fe88:99aa',
        router: true,
        solicited: false,
        override: true,
      },
    ],
    [
      'a router solicitation with a source link-layer option',
      `${RS} ${SLLA}`,
      { type: NdpType.ROUTER_SOLICITATION, code: 0, sourceLinkLayer: '00:11:22:33:44:55' },
    ],
    [
      'a router advertisement with an MTU option and two prefixes',
      `${RA} ${SLLA} ${MTU} ${PREFIX_1} ${PREFIX_2}`,
      {
        type: NdpType.ROUTER_ADVERTISEMENT,
        code: 0,
        routerLifetime: 1800,
        sourceLinkLayer: '00:11:22:33:44:55',
        prefixes: ['2001:db8:1::/64', 'fd00:0:42::/48'],
      },
    ],
    [
      'a router advertisement of a non-default router (lifetime 0) without options',
      '8600 0000 4000 0000 0000 0000 0000 0000',
      { type: NdpType.ROUTER_ADVERTISEMENT, code: 0, routerLifetime: 0 },
    ],
    [
      'a redirect with a target link-layer option and a redirected header',
      `${REDIRECT} ${TLLA} 0401 0000 0000 0000`,
      {
        type: NdpType.REDIRECT,
        code: 0,
        target: 'fe80::266:77ff:fe88:99aa',
        targetLinkLayer: '66:77:88:99:aa:bb',
      },
    ],
    [
      'options it does not know, skipped by their length (RFC 4861 4.6)',
      `${NS} ${NONCE} ${SLLA}`,
      {
        type: NdpType.NEIGHBOR_SOLICITATION,
        code: 0,
        target: 'fe80::266:77ff:fe88:99aa',
        sourceLinkLayer: '00:11:22:33:44:55',
      },
    ],
    [
      'a link-layer option longer than a MAC: the first 6 bytes are the address',
      `${NS} 0102 0011 2233 4455 0000 0000 0000 0000`,
      {
        type: NdpType.NEIGHBOR_SOLICITATION,
        code: 0,
        target: 'fe80::266:77ff:fe88:99aa',
        sourceLinkLayer: '00:11:22:33:44:55',
      },
    ],
    [
      'a prefix option of the wrong length, ignored',
      `${RA} 0303 40c0 0027 8d00 0009 3a80 0000 0000 2001 0db8 0001 0000`,
      { type: NdpType.ROUTER_ADVERTISEMENT, code: 0, routerLifetime: 1800 },
    ],
    [
      'a nonzero code (which RFC 4861 says to drop; the decoder reports it)',
      '8501 0000 0000 0000',
      { type: NdpType.ROUTER_SOLICITATION, code: 1 },
    ],
  ])('decodes %s', (_name, text, want) => {
    expect(decode(text)).toEqual(want);
  });

  it.each([
    ['an echo request', '8000 0000 1234 0001 6162 6364'],
    ['an MLDv2 report', '8f00 0000 0000 0001 0400 0000 ff02 0000 0000 0000 0000 0001 ff88 99aa'],
    ['a destination unreachable', '0104 0000 0000 0000'],
  ])('returns undefined for ICMPv6 that is not NDP: %s', (_name, text) => {
    expect(decode(text)).toBeUndefined();
  });

  it.each([
    ['empty input', '', new Malformed('icmpv6', 'truncated: 0 of 4 bytes')],
    ['an ICMPv6 header cut at 3 bytes', '8700 00', new Malformed('icmpv6', 'truncated: 3 of 4 bytes')],
    ['a solicitation cut inside the target', NS.slice(0, -5), new Malformed('ndp', 'truncated: 22 of 24 bytes')],
    [
      'a router advertisement cut inside its fixed part',
      RA.slice(0, -5),
      new Malformed('ndp', 'truncated: 14 of 16 bytes'),
    ],
    [
      'a redirect without its destination',
      `8900 0000 0000 0000 ${TARGET}`,
      new Malformed('ndp', 'truncated: 24 of 40 bytes'),
    ],
    // RFC 4861 4.6: "Nodes MUST silently discard an ND packet that contains an option with length zero."
    ['an option of length zero', `${NS} 0100 0011 2233 4455`, new Malformed('ndp-option', 'option 1 has length zero')],
    [
      'an option of length zero after a good one',
      `${RA} ${SLLA} 1900 0000 0000 0000`,
      new Malformed('ndp-option', 'option 25 has length zero'),
    ],
    [
      'an option running past the end',
      `${NS} 0102 0011 2233 4455`,
      new Malformed('ndp-option', 'truncated: 8 of 16 bytes'),
    ],
    [
      'an option cut inside its first 8 bytes',
      `${NS} 0101 0011 22`,
      new Malformed('ndp-option', 'truncated: 5 of 8 bytes'),
    ],
    ['a lone byte after the options', `${NS} ${SLLA} 01`, new Malformed('ndp-option', 'truncated: 1 of 2 bytes')],
  ])('reports %s as malformed', (_name, text, want) => {
    expect(decode(text)).toEqual(want);
  });

  it.each([
    ['RS', `${RS} ${SLLA}`],
    ['RA', `${RA} ${SLLA} ${PREFIX_1}`],
    ['NS', `${NS} ${SLLA}`],
    ['NA', `${NA} ${TLLA}`],
    ['Redirect', `${REDIRECT} ${TLLA}`],
  ])(
    'reports every truncation of a %s with options, short of the fixed part or inside an option, as malformed',
    (_name, text) => {
      const bytes = hex(text);
      const fixed = { 133: 8, 134: 16, 135: 24, 136: 24, 137: 40 }[bytes[0]!]!;
      for (let n = 0; n < bytes.length; n++) {
        const got = decodeNdp(bytes, 0, n);
        // Cut exactly between the fixed part and an option, the message is whole without it.
        if (n === fixed || (bytes[0] === 0x86 && n === fixed + 8))
          expect(got, `${n} bytes`).not.toBeInstanceOf(Malformed);
        else expect(got, `${n} bytes`).toBeInstanceOf(Malformed);
      }
    },
  );

  it('reads only between offset and end of a larger buffer', () => {
    const message = hex(`${NS} ${SLLA}`);
    const bytes = concat(hex('ffff'), message, hex('0100 ffff'));
    expect(decodeNdp(bytes, 2, 2 + message.length)).toEqual(decode(`${NS} ${SLLA}`));
    // With `end` short of the option, the option is cut even though the buffer goes on.
    expect(decodeNdp(bytes, 2, 2 + message.length - 1)).toEqual(new Malformed('ndp-option', 'truncated: 7 of 8 bytes'));
  });
});
