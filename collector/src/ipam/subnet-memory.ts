/**
 * What the allocator (allocator.ts) remembers of subnets from one batch to the next: each one's
 * hint, to read ahead with, and the view its last batch left, to decide the next one ahead.
 */
import type { AllocationPolicy, IntervalSet, Prefix, SubnetView } from '@ipwarden/ipam';
import type { AllocatorMetrics } from './allocator.js';

/**
 * How long what a batch read of a subnet is carried to decide later batches ahead, before the
 * subnet is read afresh: sightings age out of the observation window, and an address that did
 * is free again. (Changes to the subnet are never written over, however young the view: see
 * `alloc_stamp`.)
 */
export const CARRY_MS = 1_000;
/** Subnets whose views are kept before the stale ones are let go. */
const MAX_CARRIED = 256;
/** Subnets whose hints are kept (the most recently read). */
const MAX_HINTS = 4_096;

/** Who saw an address in use. */
export interface Seen {
  mac: string;
  lastSeen: Date;
}

/** What a subnet's last batch found, to read ahead with in the next batch's first round trip. */
export interface Hint {
  cidr: string;
  prefix: Prefix;
  policy: AllocationPolicy;
  windowSeconds: number;
  /** What the subnet hands out outside pools, and what it never hands out inside one. */
  outsidePools: IntervalSet;
  neverInPool: IntervalSet;
}

/** What the collector knows of a subnet after its last batch: enough to decide the next one ahead. */
export interface Carried {
  /** The batch that read it: a failure drops the view only if it is still that read's. */
  epoch: number;
  /**
   * The subnet's `alloc_stamp` once the batches sent so far have committed: each sets a new one
   * of its own, so that a batch decided on one that did not write cannot write either.
   */
  stamp: string;
  /** Exact where read, with every batch's addresses since settled in. */
  view: SubnetView<Seen>;
  readAt: number;
}

/** What the allocator remembers of subnets from one batch to the next, and where it counts its batches. */
export interface Memory {
  hints: Map<string, Hint>;
  carried: Map<string, Carried>;
  epochs: number;
  metrics?: AllocatorMetrics;
}

/** Forgets the subnet's view if it is the one `epoch` read: a batch built on it failed. */
export function drop(memory: Memory, subnetId: string, epoch: number): void {
  if (memory.carried.get(subnetId)?.epoch === epoch) memory.carried.delete(subnetId);
}

/** Lets go of views past their age once there are many, and of the hints read longest ago. */
export function forgetStale(memory: Memory): void {
  for (const id of memory.hints.keys()) {
    if (memory.hints.size <= MAX_HINTS) break;
    memory.hints.delete(id);
  }
  if (memory.carried.size <= MAX_CARRIED) return;
  const now = performance.now();
  for (const [id, carried] of memory.carried) if (now - carried.readAt > CARRY_MS) memory.carried.delete(id);
}
