/**
 * bench:ingest's load (ingest.mjs): the addresses each simulated agent reports and what the
 * allocations table says of them — 10% in a dynamic range, 0.5% unallocated, 0.5% allocated to
 * another MAC, the rest allocated and matching — and the agents' deterministic stream of
 * batches (new, refresh, moved; ARP, NDP, mDNS, DHCP), made before a phase starts.
 */
// ---------------------------------------------------------------------------------------------
// Synthetic sightings: a deterministic generator per agent. Agent `a` watches VLAN 100 + a, with
// 10.(100+a).0.0/16 and fd00:(a+1)::/64 on it. Its binding n is IPv6 when n % 4 = 3 (the k-th:
// k = n >> 2), else IPv4 (the m-th); the m-th (k-th) address's class is m % 200: below 20 in
// the dynamic range (10.(100+a).200.0 on, fd00:(a+1)::1:0 on), 20 unallocated, 21 allocated to
// another MAC, the rest allocated to the binding's MAC 02:a:n:n:n:00. Static addresses are
// 10.(100+a).0.(2+m) on and fd00:(a+1)::(16+k) on, so classes interleave at every rate, and the
// SQL fill (allocationRows) follows the same arithmetic. Of the items: 85% new, 10% refresh of
// an earlier binding, 5% moved: an earlier binding in a dynamic range given a new MAC (…:01,
// …:02), or in one move of ten back to the MAC it had before (a duplicate). Every phase starts
// again from binding 0 (its tables were emptied).

const PERIOD = 200;
const DYNAMIC_SHARE = 20; // classes 0–19 of PERIOD: 10%
const UNALLOCATED_CLASS = 20; // 0.5%
const OTHER_MAC_CLASS = 21; // 0.5%
const BACK_SHARE = 0.1;
export const DYNAMIC4_START = 200 * 256; // 10.(100+a).200.0
export const gateway4 = (a) => `10.${100 + a}.255.254`;

function mulberry32(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex2 = (n) => (n & 255).toString(16).padStart(2, '0');

/** Binding n of agent a: [ip, mac, moves, previous mac, dynamic]. */
function bindingOf(a, n) {
  const v6 = n % 4 === 3;
  const i = v6 ? n >> 2 : 3 * (n >> 2) + (n % 4);
  const cls = i % PERIOD;
  const dynamic = cls < DYNAMIC_SHARE;
  const j = Math.floor(i / PERIOD) * DYNAMIC_SHARE + cls; // the j-th address of the dynamic range
  let ip;
  if (v6) ip = `fd00:${(a + 1).toString(16)}::${dynamic ? `1:${j.toString(16)}` : (16 + i).toString(16)}`;
  else {
    const offset = dynamic ? DYNAMIC4_START + j : 2 + i;
    ip = `10.${100 + a}.${offset >> 8}.${offset & 255}`;
  }
  return [ip, `02:${hex2(a)}:${hex2(n >> 16)}:${hex2(n >> 8)}:${hex2(n)}:00`, 0, undefined, dynamic];
}

/** The rows to allocate (subnet_id, ip, mac) for bindings 0 … n - 1 of every agent, as bindingOf has them. */
export function allocationRows(agents, n) {
  const mac = (cls) => `('02' || lpad(to_hex(a), 2, '0') || lpad(to_hex((n >> 16) & 255), 2, '0')
      || lpad(to_hex((n >> 8) & 255), 2, '0') || lpad(to_hex(n & 255), 2, '0')
      || case when ${cls} = ${OTHER_MAC_CLASS} then 'ff' else '00' end)::macaddr`;
  return `select s.id as subnet_id, x.ip, x.mac from (
      select a, '10.0.0.0'::inet + ((100 + a) * 65536 + 2 + i) as ip, ${mac(`i % ${PERIOD}`)} as mac, 4 as family
      from generate_series(0, ${agents - 1}) a, generate_series(0, ${Math.ceil((3 * n) / 4)}) i,
           lateral (select 4 * (i / 3) + i % 3 as n) b
      where i % ${PERIOD} > ${UNALLOCATED_CLASS} and 4 * (i / 3) + i % 3 < ${n}
      union all
      select a, ('fd00:' || to_hex(a + 1) || '::')::inet + (16 + i), ${mac(`i % ${PERIOD}`)}, 6
      from generate_series(0, ${agents - 1}) a, generate_series(0, ${Math.ceil(n / 4)}) i,
           lateral (select 4 * i + 3 as n) b
      where i % ${PERIOD} > ${UNALLOCATED_CLASS} and 4 * i + 3 < ${n}
    ) x join subnets s on s.vlan = 100 + x.a and family(s.cidr) = x.family`;
}

export class SyntheticAgent {
  constructor(index) {
    this.index = index;
    this.vlan = 100 + index;
    this.random = mulberry32(0x1b5 + index);
    this.seq = 0; // the last seq given out
    this.restart();
  }

  /** A phase of its own: from binding 0 again, nothing known (the tables were emptied). */
  restart() {
    this.next = 0; // bindings made so far in this phase
    this.known = []; // bindings of earlier batches
    this.dynamic = []; // those of them in a dynamic range
  }

  newBinding() {
    const n = this.next++;
    if (n >= 65_535) throw new Error('synthetic address space exhausted: lower BENCH_SIGHTINGS');
    return bindingOf(this.index, n);
  }

  /** One item as the agent would send it, written straight to JSON (the generator stays cheap). */
  item(at, event, binding, previousMac) {
    const [ip, mac] = binding;
    const v6 = ip.includes(':');
    const r = this.random();
    const moved = previousMac === undefined ? '' : `,"previousMac":"${previousMac}"`;
    const head = `{"at":${at},`;
    const tail = `"ip":"${ip}","mac":"${mac}","vlan":${this.vlan},"event":"${event}"${moved}`;
    const iface = `"interface":"${this.index % 2 === 0 ? 'eth0' : 'bond0'}"}`;
    if (r < 0.1) {
      const name = `node-${this.index}-${ip.replace(/[.:]/g, '-')}`;
      return `${head}"source":"mdns","kind":"host",${tail},"hostname":"${name}","detail":{"name":"${name}.local","ttl":120},${iface}`;
    }
    if (!v6 && r < 0.2) {
      return `${head}"source":"dhcp","kind":"dhcp-lease",${tail},"detail":{"messageType":"ack","server":"10.${100 + this.index}.0.1"},${iface}`;
    }
    if (v6) {
      return `${head}"source":"ndp","kind":"host",${tail},"detail":{"type":"na","router":false,"solicited":true,"override":true},${iface}`;
    }
    return `${head}"source":"arp","kind":"host",${tail},"detail":{"op":"${r < 0.6 ? 'request' : 'reply'}"},${iface}`;
  }

  /** The next batch as UTF-8 JSON, and what storing it must add: events and binding rows. */
  batch(size) {
    const items = [];
    const made = [];
    let events = 0;
    let bindings = 0;
    const at = Date.now();
    for (let i = 0; i < size; i++) {
      const r = this.random();
      if (this.known.length > 0 && r < 0.1) {
        const b = this.known[Math.floor(this.random() * this.known.length)];
        items.push(this.item(at + i, 'refresh', b));
      } else if (this.dynamic.length > 0 && r < 0.15) {
        const b = this.dynamic[Math.floor(this.random() * this.dynamic.length)];
        const previous = b[1];
        // Back to the MAC before: a binding row that exists already (one per IP and MAC).
        const back = b[3] !== undefined && this.random() < BACK_SHARE;
        b[2]++;
        b[1] = back ? b[3] : `${previous.slice(0, 15)}${hex2(b[2])}`;
        b[3] = previous;
        items.push(this.item(at + i, 'moved', b, previous));
        events++;
        if (!back) bindings++;
      } else {
        const b = this.newBinding();
        made.push(b);
        items.push(this.item(at + i, 'new', b));
        events++;
        bindings++;
      }
    }
    for (const b of made) {
      this.known.push(b);
      if (b[4]) this.dynamic.push(b);
    }
    const seq = ++this.seq;
    const bytes = Buffer.from(`{"type":"sightings","seq":${seq},"items":[${items.join(',')}]}`);
    return { seq, size, events, bindings, bytes };
  }
}
