/**
 * bench:ingest's lab (ingest.mjs, the latency phases): a veth from the root namespace, where a
 * real `ipwarden-agent run` captures, to a namespace of its own, from which gratuitous ARP
 * announcements are sent with a raw socket and timed until the API shows what they caused.
 * Nothing is sent on any other link; what it sets up is undone at the end (support.mjs `undo`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { shebangFlags } from '../scripts/shebang-flags.mjs';
import { api, now, root, sh, sleep, stopper, undo } from './support.mjs';

const env = process.env;
const agentBin = join(root, 'agent', 'bin', 'ipwarden-agent.js');
const NETNS = 'iwb-host';
const VETH = 'iwb0'; // root namespace: the agent captures here
const VETH_PEER = 'iwb1'; // in NETNS: the frames are sent from here

function tearDownLab() {
  spawnSync('ip', ['netns', 'del', NETNS], { stdio: 'ignore' });
  spawnSync('ip', ['link', 'del', VETH], { stdio: 'ignore' });
}

export function setUpLab() {
  tearDownLab(); // leftovers of an interrupted run
  undo.push(tearDownLab);
  sh('ip', 'netns', 'add', NETNS);
  sh('ip', 'link', 'add', VETH, 'type', 'veth', 'peer', 'name', VETH_PEER, 'netns', NETNS);
  // IPv4 only on the lab link: no router solicitations or DAD of our own in the capture.
  sh('sysctl', '-qw', `net.ipv6.conf.${VETH}.disable_ipv6=1`);
  sh('ip', 'addr', 'add', '10.99.0.1/16', 'dev', VETH);
  sh('ip', 'link', 'set', VETH, 'up');
  sh('ip', 'netns', 'exec', NETNS, 'sysctl', '-qw', `net.ipv6.conf.${VETH_PEER}.disable_ipv6=1`);
  sh('ip', '-n', NETNS, 'addr', 'add', '10.99.0.2/16', 'dev', VETH_PEER);
  sh('ip', '-n', NETNS, 'link', 'set', 'lo', 'up');
  sh('ip', '-n', NETNS, 'link', 'set', VETH_PEER, 'up');
}

/**
 * Sends `count` gratuitous ARP announcements on VETH_PEER (inside NETNS), one every `gap` ms,
 * each from a new IP (10.99.0.0 + first, first + 1, …) and MAC; prints "ip ns-since-epoch" for
 * each, the time taken just before the frame is handed to the kernel.
 */
const ARP_SENDER = `
import socket, struct, sys, time
ifname, first, count, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) / 1000
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
sys.stdin.readline()  # go
for i in range(first, first + count):
    ip = bytes([10, 99, (i >> 8) & 255, i & 255])
    mac = bytes([0x02, 0x99, 0, (i >> 16) & 255, (i >> 8) & 255, i & 255])
    frame = (b'\\xff' * 6 + mac + b'\\x08\\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1)
             + mac + ip + b'\\x00' * 6 + ip + b'\\x00' * 18)
    t = time.time_ns()
    s.send(frame)
    print('10.99.%d.%d %d' % ((i >> 8) & 255, i & 255, t), flush=True)
    time.sleep(gap)
`;

export function agentHasRun() {
  const help = spawnSync(process.execPath, [agentBin, '--help'], { encoding: 'utf8' });
  return /^\s+run\b/m.test(`${help.stdout}${help.stderr}`);
}

/**
 * `ipwarden-agent run` on the lab's veth, as agent `lab` (its token and state directory, kept
 * from one collector to the next), connected (welcomed) within 15 s or its own words say why not.
 */
export async function startLabAgent(collector, lab) {
  // DESIGN.md, "Command-line contract": ipwarden-agent run.
  const args = ['run', '--collector', collector.url, '--token', lab.token, '--interface', VETH];
  args.push('--state-dir', lab.stateDir, '--name', 'bench-latency');
  const agent = spawn(process.execPath, [...shebangFlags(agentBin), agentBin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, IPWARDEN_LOG_LEVEL: 'warn' },
  });
  // pcap keeps a quiet interface's process alive after close(): SIGKILL after a short grace.
  const stop = stopper(agent, 2000);
  undo.push(stop);
  const agentLog = [];
  for (const stream of [agent.stdout, agent.stderr]) {
    createInterface({ input: stream }).on('line', (line) => agentLog.length < 100 && agentLog.push(line));
  }
  const connectedBy = Date.now() + 15_000;
  for (;;) {
    if (agent.exitCode !== null) throw new Error(`the agent exited ${agent.exitCode}:\n${agentLog.join('\n')}`);
    const { items } = await api(collector.url, 'GET', '/agents');
    if (items.find((a) => a.name === 'bench-latency')?.connected) break;
    if (Date.now() > connectedBy) throw new Error(`the agent did not connect in 15 s:\n${agentLog.join('\n')}`);
    await sleep(50);
  }
  await sleep(500); // the capture is open once the agent is welcomed; a margin for libpcap
  return { pid: agent.pid, stop };
}

/**
 * Announcements from `count` new addresses (10.99.0.0 + first on), one every `gap` ms; each is
 * timed from its send until it is seen, given up after 10 s: `arrivalOf(ip, giveUpAt)` resolves
 * to the time a followed stream brought it (undefined: given up), or else `isThere(ip)`, polled
 * every `pollMs`, says it is in the API.
 */
export async function sendAndTime({ first, count, gap, pollMs, isThere, arrivalOf }) {
  const sender = spawn(
    'ip',
    ['netns', 'exec', NETNS, 'python3', '-u', '-c', ARP_SENDER, VETH_PEER, String(first), String(count), String(gap)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const senderExit = new Promise((r) => sender.once('exit', (code) => r(code)));
  undo.push(stopper(sender, 1000));
  let senderError = '';
  sender.stderr.on('data', (d) => {
    senderError += d;
  });
  const latencies = [];
  const missing = [];
  let polls = 0;
  const poll = async (ip, sentAt) => {
    const giveUp = sentAt + 10_000;
    if (arrivalOf !== undefined) {
      // Nothing polled: a timer a millisecond on the bench's core wakes it a thousand times a second.
      const at = await arrivalOf(ip, giveUp);
      return at === undefined ? missing.push(ip) : latencies.push(at - sentAt);
    }
    for (;;) {
      polls++;
      const there = await isThere(ip);
      const seen = now();
      if (there) return latencies.push(seen - sentAt);
      if (seen > giveUp) return missing.push(ip);
      await sleep(pollMs);
    }
  };
  const pollers = [];
  const pollStart = performance.now();
  const window = { start: pollStart };
  sender.stdin.write('go\n');
  for await (const line of createInterface({ input: sender.stdout })) {
    const [ip, ns] = line.split(' ');
    pollers.push(poll(ip, Number(ns) / 1e6));
  }
  await Promise.all(pollers);
  window.end = performance.now();
  const code = await senderExit;
  if (code !== 0) throw new Error(`the ARP sender failed (${code}): ${senderError}`);
  latencies.sort((x, y) => x - y);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))];
  return {
    count,
    seen: latencies.length,
    missing,
    min: latencies[0],
    p50: at(0.5),
    p99: at(0.99),
    max: latencies.at(-1),
    pollRate: polls / ((window.end - window.start) / 1000),
    window,
  };
}
