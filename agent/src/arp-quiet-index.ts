/**
 * The flood check for ARP, which is most of what a rack network says: for each (VLAN, IP)
 * binding recently handled, its MAC and until when the same statement again changes nothing.
 * An ARP frame whose bindings are all here, with the same MACs, in time and within the binding
 * table's table-wide epoch, needs no decoding and no lookup by string: a numeric summary of the
 * frame and one cache line per binding decide it. A change to one binding (a move, an eviction,
 * a probe for its address) makes the table tell {@link ArpQuietIndex.forget} that binding alone,
 * so an address two hosts fight over costs the frames of that address the full path, not the
 * frames of every other host.
 *
 * Entries are packed into 16 bytes so that a set of four fits one cache line and the whole
 * index (4 MiB) stays in the CPU cache with tens of thousands of hosts:
 *   word 0  IPv4 address
 *   word 1  MAC, low 32 bits
 *   word 2  MAC, high 16 bits | quiet-until, whole seconds after the base (rounded down) << 16
 *   word 3  VLAN key + 1 (13 bits; 0: empty) | epoch, low 19 bits << 13
 * Frames whose VLAN key needs more than 12 bits (QinQ with a non-zero service VID) are left to
 * the generic repeat filter. Set-associative: a full set only sends frames down the full path.
 */
import { type ArpSummary, mix32 } from '@ipwarden/netcodec';
import { CacheBase } from './cache-base.js';

const SETS = 1 << 16; // 65 536 sets × 4 ways = 262 144 bindings
const WAYS = 4;
const EPOCH_BITS = 19;

export class ArpQuietIndex {
  private readonly entries = new Int32Array(SETS * WAYS * 4); // 4 MiB
  /** Quiet-until times in 16 bits of whole seconds, epochs in 19 bits. */
  private readonly base = new CacheBase(1 << 16, 1000, 1 << EPOCH_BITS);

  /** False for frames whose VLAN key does not fit the entries (QinQ with a service VID). */
  covers(frame: ArpSummary): boolean {
    return frame.vlanKey < 4095;
  }

  /** True when every binding the summarised frame states is known to be quiet at `at`. */
  isQuiet(frame: ArpSummary, at: number, epoch: number): boolean {
    if (!this.base.fits(at, epoch)) return false;
    const stored = this.base.storedEpoch(epoch);
    if (!this.bindingIsQuiet(frame.vlanKey, frame.senderIp, frame.senderMacHigh, frame.senderMacLow, at, stored)) {
      return false;
    }
    return (
      frame.count === 1 ||
      this.bindingIsQuiet(frame.vlanKey, frame.targetIp, frame.targetMacHigh, frame.targetMacLow, at, stored)
    );
  }

  /** Records that binding `which` (0 sender, 1 target) of the frame is quiet until `until`. */
  remember(frame: ArpSummary, which: number, until: number, at: number, epoch: number): void {
    if (!this.base.fits(at, epoch)) {
      this.entries.fill(0);
      this.base.reset(at, epoch);
    }
    const seconds = this.base.storedTime(until);
    if (seconds <= 0) return;
    const ip = (which === 0 ? frame.senderIp : frame.targetIp) | 0;
    const tag = (frame.vlanKey + 1) | (this.base.storedEpoch(epoch) << 13);
    const entries = this.entries;
    const first = this.set(frame.vlanKey, ip) * WAYS;
    // This binding's entry if it has one, else the one that stays quiet the shortest.
    let victim = first;
    for (let slot = first; slot < first + WAYS; slot++) {
      const e = slot * 4;
      if (entries[e] === ip && (entries[e + 3]! & 0x1fff) === frame.vlanKey + 1) {
        victim = slot;
        break;
      }
      if (entries[e + 2]! >>> 16 < entries[victim * 4 + 2]! >>> 16) victim = slot;
    }
    const e = victim * 4;
    entries[e] = ip;
    entries[e + 1] = (which === 0 ? frame.senderMacLow : frame.targetMacLow) | 0;
    entries[e + 2] = (which === 0 ? frame.senderMacHigh : frame.targetMacHigh) | (seconds << 16);
    entries[e + 3] = tag;
  }

  /** Forgets what is known of the binding of (vlanKey, ip): it has changed. */
  forget(vlanKey: number, ip: number): void {
    if (vlanKey >= 4095) return;
    const entries = this.entries;
    const first = this.set(vlanKey, ip) * WAYS;
    for (let slot = first; slot < first + WAYS; slot++) {
      const e = slot * 4;
      if (entries[e] === (ip | 0) && (entries[e + 3]! & 0x1fff) === vlanKey + 1) {
        entries[e + 2] = 0;
        entries[e + 3] = 0;
      }
    }
  }

  private bindingIsQuiet(
    vlanKey: number,
    ip: number,
    macHigh: number,
    macLow: number,
    at: number,
    epoch: number,
  ): boolean {
    const entries = this.entries;
    const first = this.set(vlanKey, ip) * WAYS;
    for (let slot = first; slot < first + WAYS; slot++) {
      const e = slot * 4;
      if (entries[e] !== (ip | 0) || (entries[e + 3]! & 0x1fff) !== vlanKey + 1) continue;
      const packed = entries[e + 2]!;
      return (
        entries[e + 1] === (macLow | 0) &&
        (packed & 0xffff) === macHigh &&
        this.base.before(at, packed >>> 16) &&
        entries[e + 3]! >>> 13 === epoch
      );
    }
    return false;
  }

  /**
   * Neighbouring addresses share a set, four to a cache line: hosts of a subnet have mostly
   * consecutive addresses, so the 50,000 of a /16 use 12,500 lines (800 KiB, which stays in a
   * core's cache) rather than one line each. Within each /14 the set is the address / 4; the
   * /14 and the VLAN place that run of sets at an offset of their own, so two subnets of one
   * segment (10.0.1.0/24 and 192.168.1.0/24) do not share sets, except by chance.
   */
  private set(vlanKey: number, ip: number): number {
    return ((ip >>> 2) + mix32((ip >>> 18) ^ Math.imul(vlanKey + 1, 0x9e3779b1))) & (SETS - 1);
  }
}
