#!/usr/bin/env node
/**
 * A steady stream of DHCPDISCOVERs, for bench:dhcp's real servers: run inside the client's
 * network namespace (`ip netns exec`), bound to the client port 68, each DISCOVER with the
 * broadcast flag (RFC 2131 4.1) so that the server's OFFER comes back to this socket whatever
 * address it offers. Told over IPC by bench/dhcp-servers.mjs what to do:
 *
 * - `{stream: {rate, macs}}`: DISCOVERs at `rate` a second, spread evenly, from `macs` in turn;
 * - `{probe: {mac, ip, not}}`: DISCOVERs for `mac` (every 5 ms, after 100 ms every 50 ms) until an OFFER says `ip` (or, with
 *   `not`, anything but it); answers `{probed: wall-clock ms}`, or `{probed: null}` after 10 s;
 * - `{report: true}`: stops the stream, waits 2 s for late OFFERs, answers with every request's
 *   send time and answer latency (or none), and exits.
 */
import { createSocket } from 'node:dgram';

const now = () => performance.timeOrigin + performance.now();
const MAGIC = 0x63825363; // RFC 2131 3: the options' magic cookie
const socket = createSocket({ type: 'udp4', reuseAddr: true });
/** xid → the request: its send time and, once answered, the latency and the address offered. */
const requests = new Map();
let xid = (process.pid << 12) >>> 0;
let probe;

function discover(mac) {
  const packet = Buffer.alloc(244 + 4);
  packet[0] = 1; // BOOTREQUEST
  packet[1] = 1; // htype ethernet
  packet[2] = 6; // hlen
  xid = (xid + 1) >>> 0;
  packet.writeUInt32BE(xid, 4);
  packet.writeUInt16BE(0x8000, 10); // flags: broadcast
  Buffer.from(mac.replaceAll(':', ''), 'hex').copy(packet, 28);
  packet.writeUInt32BE(MAGIC, 236);
  packet.set([53, 1, 1, 255], 240); // DHCP message type DISCOVER, end
  socket.send(packet, 67, '255.255.255.255');
  return xid;
}

socket.on('message', (packet) => {
  if (packet.length < 244 || packet[0] !== 2 || packet.readUInt32BE(236) !== MAGIC) return;
  const ip = [...packet.subarray(16, 20)].join('.');
  const request = requests.get(packet.readUInt32BE(4));
  if (request !== undefined && request.answeredMs === undefined) {
    request.answeredMs = now() - request.sentAt;
    request.ip = ip;
  }
  if (probe?.xids.has(packet.readUInt32BE(4)) && (probe.not ? ip !== probe.ip : ip === probe.ip)) {
    clearTimeout(probe.timer);
    process.send({ probed: now() });
    probe = undefined;
  }
});

let stream;
process.on('message', (message) => {
  if (message.stream !== undefined) {
    const { rate, macs } = message.stream;
    let n = 0;
    const start = now();
    // Paced by the clock, not by the timer: a late tick sends what is due, so the rate holds.
    stream = setInterval(() => {
      const due = Math.floor(((now() - start) / 1000) * rate);
      for (; n < due; n++) {
        const id = discover(macs[n % macs.length]);
        requests.set(id, { sentAt: now() });
      }
    }, 2);
  } else if (message.probe !== undefined) {
    const { mac, ip, not = false } = message.probe;
    const started = now();
    probe = { ip, not, xids: new Set(), timer: undefined };
    // Every 5 ms at first, then every 50 ms: a server that is busy for seconds is not flooded
    // by the probe beside the stream.
    const ask = () => {
      const waited = now() - started;
      if (waited > 10_000) {
        probe = undefined;
        process.send({ probed: null }); // not taken up within 10 s
        return;
      }
      probe.xids.add(discover(mac));
      probe.timer = setTimeout(ask, waited < 100 ? 5 : 50);
    };
    ask();
  } else if (message.report) {
    clearInterval(stream);
    setTimeout(() => {
      process.send({ requests: [...requests.values()] }, () => process.exit(0));
    }, 2_000);
  }
});

socket.bind(68, () => {
  socket.setBroadcast(true);
  socket.setRecvBufferSize(8 << 20);
  process.send({ ready: true });
});
