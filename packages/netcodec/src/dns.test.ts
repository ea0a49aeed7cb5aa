import { describe, expect, it } from 'vitest';
import { type DnsAddressRecord, type DnsMessage, DnsType, decodeDns } from './dns.js';
import { Malformed } from './malformed.js';
import { ascii, concat, dnsName, hex } from './test-bytes.js';

const PRINTER_LOCAL = '07 7072 696e 7465 72 05 6c6f 6361 6c 00'; // printer.local, 15 bytes
const A_192_168_1_5 = '0001 8001 0000 0078 0004 c0a8 0105'; // type A, IN + cache-flush, TTL 120
const AAAA_FE80 = '001c 8001 0000 0078 0010 fe80 0000 0000 0000 0211 22ff fe33 4455';

// An mDNS response (RFC 6762 6): A in the answers, an A in authority, AAAA in the additionals,
// the later names compressed to the first (RFC 1035 4.1.4: pointer 0xc00c is offset 12).
const RESPONSE = [
  '0000 8400 0000 0001 0001 0001', // id 0, QR + AA, 0 questions, 1 answer, 1 authority, 1 additional
  `${PRINTER_LOCAL} ${A_192_168_1_5}`,
  'c00c 0001 0001 0000 0078 0004 c0a8 0106',
  `c00c ${AAAA_FE80}`,
].join(' ');

// A DNS-SD answer (RFC 6763): PTR in the answers; SRV, TXT, A and AAAA in the additionals.
const SERVICE_RESPONSE = [
  '0000 8400 0000 0001 0000 0004',
  '045f 6970 7004 5f74 6370 056c 6f63 616c 00', // @12 _ipp._tcp.local (local @22)
  '000c 0001 0000 1194 000a 07 7072 696e 7465 72 c00c', // PTR → @39 printer._ipp._tcp.local
  'c027 0021 8001 0000 0078 0010 0000 0000 0277 07 7072 696e 7465 72 c016', // SRV → @67 printer.local
  'c027 0010 8001 0000 1194 0001 00', // TXT, empty
  `c043 ${A_192_168_1_5}`,
  `c043 ${AAAA_FE80}`,
].join(' ');

// An mDNS query (RFC 6762 5): one question, printer.local ANY with the unicast-response bit.
const QUERY = `0000 0000 0001 0000 0000 0000 ${PRINTER_LOCAL} 00ff 8001`;

function decode(text: string): DnsMessage | Malformed {
  const bytes = hex(text);
  return decodeDns(bytes, 0, bytes.length);
}

function addresses(text: string): DnsAddressRecord[] | Malformed {
  const message = decode(text);
  return message instanceof Malformed ? message : message.addresses;
}

const printerA: DnsAddressRecord = {
  section: 'answer',
  name: 'printer.local',
  type: DnsType.A,
  class: 1,
  cacheFlush: true,
  ttl: 120,
  address: '192.168.1.5',
};

describe('decodeDns', () => {
  it('decodes a response with A and AAAA records in every section', () => {
    expect(decode(RESPONSE)).toEqual({
      id: 0,
      response: true,
      opcode: 0,
      rcode: 0,
      questionCount: 0,
      answerCount: 1,
      authorityCount: 1,
      additionalCount: 1,
      addresses: [
        printerA,
        { ...printerA, section: 'authority', cacheFlush: false, address: '192.168.1.6' },
        { ...printerA, section: 'additional', type: DnsType.AAAA, address: 'fe80::211:22ff:fe33:4455' },
      ],
    });
  });

  it('walks past PTR, SRV and TXT records to the address records, following pointers into rdata', () => {
    expect(addresses(SERVICE_RESPONSE)).toEqual([
      { ...printerA, section: 'additional' },
      { ...printerA, section: 'additional', type: DnsType.AAAA, address: 'fe80::211:22ff:fe33:4455' },
    ]);
  });

  it('decodes a query: not a response, no addresses', () => {
    expect(decode(QUERY)).toMatchObject({ response: false, questionCount: 1, answerCount: 0, addresses: [] });
  });

  it('keeps the known answers of a query (RFC 6762 7.1), marked as answers', () => {
    const query = `0000 0000 0001 0001 0000 0000 ${PRINTER_LOCAL} 0001 0001 c00c ${A_192_168_1_5}`;
    expect(decode(query)).toMatchObject({ response: false, addresses: [printerA] });
  });

  it('puts the proposed records of a probe (RFC 6762 8.1) in authority', () => {
    const probe = `0000 0000 0001 0000 0001 0000 ${PRINTER_LOCAL} 00ff 0001 c00c 0001 0001 0000 0078 0004 c0a8 0105`;
    expect(addresses(probe)).toEqual([{ ...printerA, section: 'authority', cacheFlush: false }]);
  });

  it('reads the header fields: id, opcode, rcode', () => {
    expect(decode('abcd 2803 0000 0000 0000 0000')).toMatchObject({ id: 0xabcd, response: false, opcode: 5, rcode: 3 });
  });

  it.each<[string, string, Partial<DnsAddressRecord>]>([
    [
      'a class without the cache-flush bit (RFC 6762 10.2)',
      `${PRINTER_LOCAL} 0001 0001 0000 0078 0004 c0a8 0105`,
      { class: 1, cacheFlush: false },
    ],
    [
      'a TTL with the high bit set as unsigned',
      `${PRINTER_LOCAL} 0001 8001 ffff ffff 0004 c0a8 0105`,
      { ttl: 4294967295 },
    ],
    ['a goodbye (TTL 0, RFC 6762 10.1)', `${PRINTER_LOCAL} 0001 8001 0000 0000 0004 c0a8 0105`, { ttl: 0 }],
    ['a UTF-8 name (RFC 6762 16)', `05 6361 66c3 a9 05 6c6f 6361 6c 00 ${A_192_168_1_5}`, { name: 'café.local' }],
    [
      'a name with its case kept',
      `07 5052 494e 5445 52 05 6c6f 6361 6c 00 ${A_192_168_1_5}`,
      { name: 'PRINTER.local' },
    ],
    ['the root name', `00 ${A_192_168_1_5}`, { name: '.' }],
  ])('decodes %s', (_name, record, want) => {
    const got = addresses(`0000 8400 0000 0001 0000 0000 ${record}`);
    expect(got).toEqual([expect.objectContaining(want)]);
  });

  it('follows a forward pointer, which RFC 1035 4.1.4 does not foresee but readers accept', () => {
    // @12 the first answer's name points to @28, the second answer's name.
    const message = `0000 8400 0000 0002 0000 0000 c01c ${A_192_168_1_5} ${PRINTER_LOCAL} 0001 8001 0000 0078 0004 c0a8 0107`;
    expect(addresses(message)).toEqual([printerA, { ...printerA, address: '192.168.1.7' }]);
  });

  it('accepts a label of 63 bytes, the most RFC 1035 2.3.4 allows', () => {
    const label = 'a'.repeat(63);
    const message = concat(hex('0000 8400 0000 0001 0000 0000'), dnsName(`${label}.local`), hex(A_192_168_1_5));
    expect(decodeDns(message, 0, message.length)).toMatchObject({ addresses: [{ name: `${label}.local` }] });
  });

  it('accepts a name of exactly 255 bytes on the wire (RFC 1035 3.1)', () => {
    const name = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.');
    const wire = dnsName(name);
    expect(wire.length).toBe(255);
    const message = concat(hex('0000 8400 0000 0001 0000 0000'), wire, hex(A_192_168_1_5));
    expect(decodeDns(message, 0, message.length)).toMatchObject({ addresses: [{ name }] });
  });

  it.each([
    ['empty input', '', new Malformed('dns', 'truncated: 0 of 12 bytes')],
    ['a header cut at 11 bytes', '0000 8400 0000 0001 0000 00', new Malformed('dns', 'truncated: 11 of 12 bytes')],
    [
      'a question name running past the end',
      '0000 0000 0001 0000 0000 0000 07 7072 696e',
      new Malformed('dns', 'name runs past the end of the message'),
    ],
    [
      'a question cut inside its type and class',
      `0000 0000 0001 0000 0000 0000 ${PRINTER_LOCAL} 00ff`,
      new Malformed('dns', 'truncated: 2 of 4 bytes'),
    ],
    [
      'a question name ending in half a pointer',
      '0000 0000 0001 0000 0000 0000 c0',
      new Malformed('dns', 'name pointer runs past the end of the message'),
    ],
    [
      'more records counted than present',
      `0000 8400 0000 0002 0000 0000 ${PRINTER_LOCAL} ${A_192_168_1_5}`,
      new Malformed('dns', 'name runs past the end of the message'),
    ],
    [
      'a record header cut at 6 bytes',
      `0000 8400 0000 0001 0000 0000 ${PRINTER_LOCAL} 0001 8001 0000`,
      new Malformed('dns', 'truncated: 6 of 10 bytes'),
    ],
    [
      'rdata cut short of its length',
      `0000 8400 0000 0001 0000 0000 ${PRINTER_LOCAL} 0001 8001 0000 0078 0004 c0a8`,
      new Malformed('dns', 'truncated: 2 of 4 bytes'),
    ],
    [
      'rdata of a record it skips cut short of its length',
      `0000 8400 0000 0001 0000 0000 ${PRINTER_LOCAL} 0010 8001 0000 0078 0040 0000`,
      new Malformed('dns', 'truncated: 2 of 64 bytes'),
    ],
    [
      'an A record of 5 bytes',
      `0000 8400 0000 0001 0000 0000 ${PRINTER_LOCAL} 0001 8001 0000 0078 0005 c0a8 0105 00`,
      new Malformed('dns', 'A record of 5 bytes'),
    ],
    [
      'an AAAA record of 4 bytes',
      `0000 8400 0000 0001 0000 0000 ${PRINTER_LOCAL} 001c 8001 0000 0078 0004 c0a8 0105`,
      new Malformed('dns', 'AAAA record of 4 bytes'),
    ],
    [
      'a label of 64 bytes: its length has the 0x40 bit, an extended label type (RFC 6891 5)',
      `0000 8400 0000 0001 0000 0000 40 ${'61'.repeat(64)} 00 ${A_192_168_1_5}`,
      new Malformed('dns', 'unknown label type 0x40'),
    ],
    [
      'a label type 0x80 (reserved, RFC 1035 4.1.4)',
      `0000 8400 0000 0001 0000 0000 80 00 ${A_192_168_1_5}`,
      new Malformed('dns', 'unknown label type 0x80'),
    ],
    [
      'a name pointer to itself',
      `0000 8400 0000 0001 0000 0000 c00c ${A_192_168_1_5}`,
      new Malformed('dns', 'name pointer loop'),
    ],
    [
      'two name pointers to each other',
      // @12 a NULL record whose rdata holds @23 → @25 and @25 → @23; @27 an A record named @23.
      `0000 8400 0000 0002 0000 0000 00 000a 0001 0000 0000 0004 c019 c017 c017 ${A_192_168_1_5}`,
      new Malformed('dns', 'name pointer loop'),
    ],
    [
      'a name pointer past the end of the message',
      `0000 8400 0000 0001 0000 0000 c0ff ${A_192_168_1_5}`,
      new Malformed('dns', 'name runs past the end of the message'),
    ],
    [
      'a forward pointer to a label running past the end',
      // @12 an A record named @28, where a 63-byte label begins with 2 bytes left.
      `0000 8400 0000 0001 0000 0000 c01c ${A_192_168_1_5} 3f61`,
      new Malformed('dns', 'label runs past the end of the message'),
    ],
  ])('reports %s as malformed', (_name, text, want) => {
    expect(decode(text)).toEqual(want);
  });

  it('reports a name of 256 bytes on the wire as malformed (RFC 1035 3.1: 255 at most)', () => {
    const name = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(62)].join('.');
    const wire = dnsName(name);
    expect(wire.length).toBe(256);
    const message = concat(hex('0000 8400 0000 0001 0000 0000'), wire, hex(A_192_168_1_5));
    expect(decodeDns(message, 0, message.length)).toEqual(new Malformed('dns', 'name longer than 255 bytes'));
  });

  it('reports a name over 255 bytes made of a label and a pointer as malformed', () => {
    // @12 a NULL record whose rdata @23 holds a 193-byte name; then an A record named 63 bytes + @23.
    const long = dnsName(['b'.repeat(63), 'c'.repeat(63), 'd'.repeat(63)].join('.'));
    const message = concat(
      hex('0000 8400 0000 0002 0000 0000 00 000a 0001 0000 0000'),
      Uint8Array.of(0, long.length),
      long,
      Uint8Array.of(63),
      ascii('a'.repeat(63)),
      hex(`c017 ${A_192_168_1_5}`),
    );
    expect(decodeDns(message, 0, message.length)).toEqual(new Malformed('dns', 'name longer than 255 bytes'));
  });

  it('reports a question name of more than 128 labels as malformed', () => {
    const message = hex(`0000 0000 0001 0000 0000 0000 ${'0161 '.repeat(129)} 00 0001 0001`);
    expect(decodeDns(message, 0, message.length)).toEqual(new Malformed('dns', 'name has more than 128 labels'));
  });

  it('reports every truncation of a response as malformed', () => {
    const bytes = hex(SERVICE_RESPONSE);
    for (let n = 0; n < bytes.length; n++) {
      expect(decodeDns(bytes, 0, n), `${n} bytes`).toBeInstanceOf(Malformed);
    }
  });

  it('resolves pointers from the start of the message, not of the buffer', () => {
    const message = hex(RESPONSE);
    const bytes = concat(hex('c00c c00c c00c c00c'), message, hex('c00c'));
    expect(decodeDns(bytes, 8, 8 + message.length)).toEqual(decode(RESPONSE));
  });

  it('reads only between offset and end of a larger buffer', () => {
    // The pointer target @28 lies past `end`, though the buffer holds a name there.
    const message = hex(`0000 8400 0000 0001 0000 0000 c01c ${A_192_168_1_5}`);
    const bytes = concat(message, hex(PRINTER_LOCAL));
    expect(decodeDns(bytes, 0, message.length)).toEqual(new Malformed('dns', 'name runs past the end of the message'));
    expect(decodeDns(bytes, 0, bytes.length)).toMatchObject({ addresses: [{ name: 'printer.local' }] });
  });
});
