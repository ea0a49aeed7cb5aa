// Sends raw Ethernet frames on an interface through libpcap (the agent's `pcap` binding), for
// frames the lab's kernel cannot make itself — 802.1Q and 802.1ad tags without the 8021q module.
//   node inject-frames.mjs IFACE HEX [HEX...]
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const agent = resolve(fileURLToPath(import.meta.url), '..', '..', '..', 'agent', 'package.json');
const pcap = createRequire(agent)('pcap');
const [ifname, ...frames] = process.argv.slice(2);
const session = pcap.createSession(ifname, { filter: 'less 1', buffer_timeout: 0 });
for (const frame of frames) session.inject(Buffer.from(frame, 'hex'));
// The binding frees its handle only on the next captured frame; nothing more is needed here.
process.exit(0);
