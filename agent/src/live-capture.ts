/**
 * Live capture with libpcap (the `pcap` binding): one session per watched interface, with the
 * filter of capture-filter.ts and immediate mode, so that a frame reaches the pipeline within
 * milliseconds of crossing the wire. The only place the agent opens pcap.
 */
import { readFileSync } from 'node:fs';
import { LinkType } from '@ipwarden/netcodec';
import pcap from 'pcap';
import { CAPTURE_FILTER } from './capture-filter.js';
import { HostError } from './errors.js';

export interface CaptureCounters {
  /** Frames the kernel handed to the capture (that passed the filter). */
  received: number;
  /** Frames the kernel dropped because the capture buffer was full. */
  kernelDrops: number;
  /** Frames the interface or its driver dropped. */
  interfaceDrops: number;
  /** Frames whose handling threw: counted and skipped, never fatal. */
  handlerErrors: number;
}

export interface LiveCapture {
  readonly interfaceName: string;
  counters(): CaptureCounters;
  close(): void;
}

/** A frame as the pipeline takes it; `bytes` is reused by the next frame. */
export type FrameHandler = (linkType: number, bytes: Uint8Array, offset: number, length: number, at: number) => void;

const LINK_TYPES: Record<string, number> = {
  LINKTYPE_ETHERNET: LinkType.ETHERNET,
  LINKTYPE_LINUX_SLL: LinkType.LINUX_SLL,
  LINKTYPE_LINUX_SLL2: LinkType.LINUX_SLL2,
};

const CAP_NET_ADMIN = 12;
const CAP_NET_RAW = 13;

/** The capabilities live capture needs that this process lacks, by name (Linux only). */
export function missingCaptureCapabilities(status = readProcStatus()): string[] {
  const line = status?.split('\n').find((l) => l.startsWith('CapEff:'));
  if (line === undefined) return [];
  const effective = BigInt(`0x${line.slice('CapEff:'.length).trim()}`);
  const missing: string[] = [];
  if ((effective & (1n << BigInt(CAP_NET_RAW))) === 0n) missing.push('CAP_NET_RAW');
  if ((effective & (1n << BigInt(CAP_NET_ADMIN))) === 0n) missing.push('CAP_NET_ADMIN');
  return missing;
}

function readProcStatus(): string | undefined {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
}

/** Why capture cannot start, in words an operator can act on. */
export class CapturePermissionError extends HostError {
  override readonly name = 'CapturePermissionError';
}

/** Throws a CapturePermissionError, naming what is missing and how to grant it, unless this process may capture. */
export function checkCaptureCapabilities(interfaceNames: readonly string[], status?: string): void {
  const missing = missingCaptureCapabilities(status);
  if (missing.length > 0) {
    throw new CapturePermissionError(
      `capturing on ${interfaceNames.join(', ')} needs ${missing.join(' and ')}: run as root, or grant them with ` +
        `setpriv --ambient-caps=+net_raw,+net_admin --inh-caps=+net_raw,+net_admin (or setcap cap_net_raw,cap_net_admin+eip on the node binary)`,
    );
  }
}

/**
 * Opens a live capture on `interfaceName` and hands every frame to `onFrame`. Throws a
 * CapturePermissionError naming the missing capabilities, or the libpcap error otherwise.
 */
export function openLiveCapture(interfaceName: string, onFrame: FrameHandler): LiveCapture {
  checkCaptureCapabilities([interfaceName]);
  const session = pcap.createSession(interfaceName, {
    filter: CAPTURE_FILTER,
    buffer_timeout: 0, // immediate mode: no batching delay in the kernel
    buffer_size: 8 * 1024 * 1024, // 8 MiB of kernel buffer against bursts
    snap_length: 65535,
    promiscuous: true,
  });
  const linkType = LINK_TYPES[session.link_type];
  if (linkType === undefined) {
    session.close();
    throw new Error(
      `${interfaceName}: link type ${session.link_type} is not one ipwarden decodes (Ethernet, Linux cooked)`,
    );
  }
  let handlerErrors = 0;
  session.on('packet', (raw: { buf: Buffer; header: Buffer }) => {
    const header = raw.header;
    const at = header.readUInt32LE(0) * 1000 + header.readUInt32LE(4) / 1000;
    // An exception escaping into the binding would end the process (it is rethrown as fatal).
    try {
      onFrame(linkType, raw.buf, 0, header.readUInt32LE(8), at);
    } catch {
      handlerErrors++;
    }
  });
  return {
    interfaceName,
    counters() {
      const stats = session.stats();
      return { received: stats.ps_recv, kernelDrops: stats.ps_drop, interfaceDrops: stats.ps_ifdrop, handlerErrors };
    },
    /**
     * Stops delivering frames. pcap 3.1.0 frees the libpcap handle only when the next frame
     * arrives, so on a quiet interface the process must end by itself (process.exit) once done.
     */
    close() {
      session.close();
    },
  };
}
