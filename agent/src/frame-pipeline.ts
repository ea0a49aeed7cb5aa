/**
 * From captured frames to sightings: link-type check, the repeat filter, the decoders and the
 * binding table, with the counts an operator wants to see. One pipeline serves `read` on a
 * capture file and the live capture.
 */
import {
  type ArpSummary,
  isSupportedLinkType,
  LinkType,
  Malformed,
  type Observation,
  observeFrame,
  summarizeArpFrame,
} from '@ipwarden/netcodec';
import { ArpQuietIndex } from './arp-quiet-index.js';
import { BindingTable, type BindingTableOptions, type Sighting } from './binding-table.js';
import { RepeatFilter } from './repeat-filter.js';

export interface PipelineStats {
  frames: number;
  observations: number;
  sightings: number;
  malformed: number;
  /** Malformed frames by the layer that failed. */
  malformedByLayer: Record<string, number>;
  /** Frames skipped because their link type is not decoded, by link type. */
  skippedLinkTypes: Record<number, number>;
  /** Frames recognised as quiet repeats without decoding them again. */
  repeats: number;
}

export function emptyStats(): PipelineStats {
  return {
    frames: 0,
    observations: 0,
    sightings: 0,
    malformed: 0,
    malformedByLayer: {},
    skippedLinkTypes: {},
    repeats: 0,
  };
}

export class FramePipeline {
  readonly table: BindingTable;
  readonly stats = emptyStats();
  private readonly repeats = new RepeatFilter();
  private readonly arpIndex = new ArpQuietIndex();
  private readonly arp: ArpSummary = {
    vlanKey: 0,
    count: 0,
    senderIp: 0,
    senderMacHigh: 0,
    senderMacLow: 0,
    targetIp: 0,
    targetMacHigh: 0,
    targetMacLow: 0,
  };

  constructor(
    private readonly onSighting: (sighting: Sighting) => void,
    options: Omit<BindingTableOptions, 'onBindingChange'> = {},
  ) {
    this.table = new BindingTable({
      ...options,
      onBindingChange: (vlanKey, ip) => {
        const n = ipv4Number(ip);
        if (n >= 0) this.arpIndex.forget(vlanKey, n);
      },
    });
  }

  /** One captured frame: bytes[offset, offset + length), captured at `at` (ms since the epoch). */
  push(linkType: number, bytes: Uint8Array, offset: number, length: number, at: number): void {
    const stats = this.stats;
    stats.frames++;
    if (!this.decodable(linkType)) return;
    const table = this.table;
    // Repeats that change nothing skip the decoders: ARP by its numeric summary, the rest by
    // an exact copy of the frame.
    const arp =
      linkType === LinkType.ETHERNET &&
      summarizeArpFrame(bytes, offset, offset + length, this.arp) &&
      this.arpIndex.covers(this.arp);
    if (arp) {
      if (this.arpIndex.isQuiet(this.arp, at, table.tableEpoch)) {
        stats.repeats++;
        stats.observations += this.arp.count;
        return;
      }
    } else {
      const repeated = this.repeats.lookup(linkType, bytes, offset, length, at, table.epoch);
      if (repeated >= 0) {
        stats.repeats++;
        stats.observations += repeated;
        return;
      }
    }
    const result = this.observe(linkType, bytes, offset, length);
    if (result === undefined) return;
    // A repeat is quiet until the earliest time any of its observations is due, and only while
    // nothing has changed since the first of them was handled: a later observation of this
    // same frame may evict or move the binding of an earlier one (for the ARP index, the table
    // then forgets that binding's entry, remembered just before).
    let quietUntil = Number.POSITIVE_INFINITY;
    let epoch = table.epoch;
    for (let i = 0; i < result.length; i++) {
      stats.observations++;
      const sighting = table.observe(result[i]!, at, !arp);
      if (i === 0) epoch = table.epoch;
      if (table.quietUntil < quietUntil) quietUntil = table.quietUntil;
      // summarizeArpFrame and observeFrame share arpStatement: observation i is binding i.
      if (arp) this.arpIndex.remember(this.arp, i, table.quietUntil, at, table.tableEpoch);
      if (sighting !== undefined) {
        stats.sightings++;
        this.onSighting(sighting);
      }
    }
    if (!arp && quietUntil > at)
      this.repeats.remember(linkType, bytes, offset, length, at, quietUntil, epoch, result.length);
  }

  /**
   * Every observation of one frame, counted but without the binding table: what
   * `read --all` prints.
   */
  pushAll(
    linkType: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    onObservation: (o: Observation) => void,
  ): void {
    this.stats.frames++;
    if (!this.decodable(linkType)) return;
    const result = this.observe(linkType, bytes, offset, length);
    if (result === undefined) return;
    this.stats.observations += result.length;
    for (const observation of result) onObservation(observation);
  }

  /** False, counted, for frames of a link type the decoders do not read. */
  private decodable(linkType: number): boolean {
    if (isSupportedLinkType(linkType)) return true;
    this.stats.skippedLinkTypes[linkType] = (this.stats.skippedLinkTypes[linkType] ?? 0) + 1;
    return false;
  }

  /** The frame's observations, or undefined, counted, when it is malformed. */
  private observe(
    linkType: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
  ): readonly Observation[] | undefined {
    const result = observeFrame(linkType, bytes, offset, offset + length);
    if (!(result instanceof Malformed)) return result;
    this.stats.malformed++;
    this.stats.malformedByLayer[result.layer] = (this.stats.malformedByLayer[result.layer] ?? 0) + 1;
    return undefined;
  }
}

/** The 32 bits of an IPv4 address in dotted-quad text (as the decoders write it), or -1. */
function ipv4Number(ip: string): number {
  let n = 0;
  let part = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      n = n * 256 + part;
      part = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + c - 48;
    } else {
      return -1;
    }
  }
  return dots === 3 ? n * 256 + part : -1;
}
