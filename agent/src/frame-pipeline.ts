/**
 * From captured frames to sightings: link-type check, the repeat filter, the decoders and the
 * binding table, with the counts an operator wants to see. One pipeline serves `read` on a
 * capture file and the live capture.
 */
import {
  type ArpSummary,
  emptyArpSummary,
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
  private readonly arp: ArpSummary = emptyArpSummary();

  constructor(
    private readonly onSighting: (sighting: Sighting) => void,
    options: Omit<BindingTableOptions, 'onBindingChange'> = {},
  ) {
    this.table = new BindingTable({
      ...options,
      onBindingChange: (vlanKey, _ip, ipv4) => {
        if (ipv4 >= 0) this.arpIndex.forget(vlanKey, ipv4);
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
      this.pushArp(bytes, offset, length, at);
      return;
    }
    const repeated = this.repeats.lookup(linkType, bytes, offset, length, at, table.epoch);
    if (repeated >= 0) {
      stats.repeats++;
      stats.observations += repeated;
      return;
    }
    const result = this.observe(linkType, bytes, offset, length);
    if (result === undefined) return;
    // A repeat is quiet until the earliest time any of its observations is due, and only while
    // nothing has changed since the first of them was handled: a later observation of this
    // same frame may evict or move the binding of an earlier one.
    let quietUntil = Number.POSITIVE_INFINITY;
    let epoch = table.epoch;
    for (let i = 0; i < result.length; i++) {
      stats.observations++;
      const sighting = table.observe(result[i]!, at);
      if (i === 0) epoch = table.epoch;
      if (table.quietUntil < quietUntil) quietUntil = table.quietUntil;
      if (sighting !== undefined) {
        stats.sightings++;
        this.onSighting(sighting);
      }
    }
    if (quietUntil > at) this.repeats.remember(linkType, bytes, offset, length, at, quietUntil, epoch, result.length);
  }

  /**
   * An ARP frame the index did not find quiet (summarised in `this.arp`): each binding it
   * states goes to the table's numeric path, and only those that path does not handle (a new
   * binding, a move, a probe awaiting its answer) to the decoders and the table's full path —
   * the frame is decoded once, at the first. Either way the index then remembers until when
   * the binding is quiet; should a later binding of the frame evict or move the binding of an
   * earlier one, the table makes the index forget that entry again.
   */
  private pushArp(bytes: Uint8Array, offset: number, length: number, at: number): void {
    const stats = this.stats;
    const table = this.table;
    const frame = this.arp;
    let decoded: readonly Observation[] | undefined;
    for (let i = 0; i < frame.count; i++) {
      let sighting: Sighting | undefined;
      if (table.observeArp(frame, i, at)) {
        sighting = table.sighting;
      } else {
        // summarizeArpFrame and observeFrame share arpStatement and the checks of the header
        // and tags: the frame decodes, and observation i is binding i.
        decoded ??= this.observe(LinkType.ETHERNET, bytes, offset, length);
        const observation = decoded?.[i];
        if (observation === undefined) return;
        sighting = table.observe(observation, at, false);
      }
      stats.observations++;
      this.arpIndex.remember(frame, i, table.quietUntil, at, table.tableEpoch);
      if (sighting !== undefined) {
        stats.sightings++;
        this.onSighting(sighting);
      }
    }
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
