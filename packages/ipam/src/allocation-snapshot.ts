/**
 * The allocations of one subnet, as the conflict rules ask about them: is this address
 * allocated, and to which MAC? Held in two sorted typed arrays — the address, and its MAC as a
 * 48-bit number (exact in a double) — so that a subnet of a hundred thousand allocations costs
 * about a megabyte and a lookup a binary search, where a Map of strings would cost a hundred
 * times the memory. Pure: the collector reads the rows and keeps the snapshot while the subnet's
 * allocation stamp says nothing changed.
 */
import type { Ip } from './ip.js';

/** No MAC: an allocation that any MAC may use (API.md, a reservation without one). */
const NO_MAC = -1;

export class AllocationSnapshot {
  readonly size: number;

  private constructor(
    readonly family: 4 | 6,
    /** IPv4: the addresses; IPv6: their high and low 64 bits, in two arrays. Sorted. */
    private readonly v4: Float64Array,
    private readonly hi: BigUint64Array,
    private readonly lo: BigUint64Array,
    private readonly macs: Float64Array,
  ) {
    this.size = family === 4 ? v4.length : hi.length;
  }

  /** From rows in any order. */
  static of(family: 4 | 6, rows: readonly { ip: Ip; mac: string | null }[]): AllocationSnapshot {
    const sorted = [...rows].sort((a, b) => (a.ip.value < b.ip.value ? -1 : a.ip.value > b.ip.value ? 1 : 0));
    const macs = new Float64Array(sorted.map((r) => (r.mac === null ? NO_MAC : macNumber(r.mac))));
    if (family === 4) {
      const v4 = new Float64Array(sorted.map((r) => Number(r.ip.value)));
      return new AllocationSnapshot(4, v4, new BigUint64Array(0), new BigUint64Array(0), macs);
    }
    const hi = new BigUint64Array(sorted.map((r) => r.ip.value >> 64n));
    const lo = new BigUint64Array(sorted.map((r) => r.ip.value & 0xffff_ffff_ffff_ffffn));
    return new AllocationSnapshot(6, new Float64Array(0), hi, lo, macs);
  }

  /**
   * An IPv4 snapshot from columns already in address order (as the database's index gives
   * them): the addresses as numbers and the MACs as text, null for none. No object per row.
   */
  static fromSortedIpv4(ips: Float64Array, macs: readonly (string | null)[]): AllocationSnapshot {
    const packed = new Float64Array(macs.length);
    for (let i = 0; i < macs.length; i++) {
      const mac = macs[i]!;
      packed[i] = mac === null ? NO_MAC : macNumber(mac);
    }
    return new AllocationSnapshot(4, ips, new BigUint64Array(0), new BigUint64Array(0), packed);
  }

  /** The allocation's MAC, null when it has none, undefined when the address is not allocated. */
  macOf(ip: Ip): string | null | undefined {
    const at = ip.family === 4 ? this.find4(Number(ip.value)) : this.find6(ip.value);
    if (at < 0) return undefined;
    const mac = this.macs[at]!;
    return mac === NO_MAC ? null : macText(mac);
  }

  /**
   * Whether `mac` may use the address: true when it is allocated to that MAC or to none, false
   * when to another, undefined when it is not allocated. Numbers compared, no text made.
   */
  admits(ip: Ip, mac: string): boolean | undefined {
    const at = ip.family === 4 ? this.find4(Number(ip.value)) : this.find6(ip.value);
    if (at < 0) return undefined;
    const allocated = this.macs[at]!;
    return allocated === NO_MAC || allocated === macNumber(mac);
  }

  private find4(value: number): number {
    const keys = this.v4;
    let lo = 0;
    let hi = keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const key = keys[mid]!;
      if (key < value) lo = mid + 1;
      else if (key > value) hi = mid - 1;
      else return mid;
    }
    return -1;
  }

  private find6(value: bigint): number {
    const high = value >> 64n;
    const low = value & 0xffff_ffff_ffff_ffffn;
    let lo = 0;
    let hi = this.hi.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const h = this.hi[mid]!;
      const l = this.lo[mid]!;
      if (h < high || (h === high && l < low)) lo = mid + 1;
      else if (h > high || l > low) hi = mid - 1;
      else return mid;
    }
    return -1;
  }
}

/** aa:bb:cc:dd:ee:ff as a number below 2^48, read digit by digit. */
export function macNumber(mac: string): number {
  let value = 0;
  for (let i = 0; i < mac.length; i++) {
    const c = mac.charCodeAt(i);
    if (c === 58) continue;
    value = value * 16 + (c <= 57 ? c - 48 : (c | 32) - 87);
  }
  return value;
}

function macText(value: number): string {
  const hex = value.toString(16).padStart(12, '0');
  return `${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}:${hex.slice(8, 10)}:${hex.slice(10, 12)}`;
}
