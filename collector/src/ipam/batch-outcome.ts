/**
 * What an allocator batch (allocator.ts) came to, however it was decided: the addresses its
 * pickers chose, the runs and rows to write for them, the stamps its write moves its subnets
 * to, and the answers to its requests.
 */
import { randomUUID } from 'node:crypto';
import { formatIp, type Outcome } from '@ipwarden/ipam';
import type { ApiError } from '../errors.js';
import type { Allocated, AllocationRequest } from './allocator.js';
import type { Group } from './batch-groups.js';
import type { WrittenRow } from './batch-write.js';
import { drop, type Memory, type Seen } from './subnet-memory.js';

/** A request whose batch wrote nothing for its subnet (decided on a view no longer true): decide it again. */
export const AGAIN = Symbol('again');

/** The request's answer, the ApiError that refuses it, or AGAIN. */
export type Result = Allocated | ApiError | typeof AGAIN;

/** What the batch's pickers chose, and the runs to write back for it. */
export function chosenIn(groups: readonly Group[]) {
  const chosen: Chosen[] = [];
  const runs: RunChanges = { removed: [], added: [] };
  for (const group of groups) {
    const family = group.prefix!.family;
    const text = (value: bigint) => formatIp({ family, value });
    for (const [k, outcome] of (group.picker!.outcomes as Outcome<Seen>[]).entries()) {
      if (outcome.outcome === 'allocated') chosen.push({ index: group.wantOf[k]!, group, ip: text(outcome.value) });
    }
    const changes = group.view!.runChanges();
    for (const lo of changes.removed) runs.removed.push({ subnetId: group.id, lo: text(lo) });
    for (const [lo, hi] of changes.added) runs.added.push({ subnetId: group.id, lo: text(lo), hi: text(hi) });
  }
  return { chosen, runs };
}

/**
 * The answers to the chosen requests: what was written, or — for a subnet whose write was held
 * back (its view no longer true) — AGAIN, with the view dropped.
 */
export function answers(
  requests: readonly AllocationRequest[],
  chosen: readonly Chosen[],
  written: Map<string, Pick<Allocated, 'createdAt' | 'lastSeen' | 'seenMac'>>,
  memory: Memory,
): { results: Result[]; heldBack: Set<Group> } {
  const results: Result[] = requests.map(() => AGAIN);
  const heldBack = new Set<Group>();
  for (const { group, ip } of chosen) if (!written.has(`${group.id} ${ip}`)) heldBack.add(group);
  for (const group of heldBack) drop(memory, group.id, group.carried!.epoch);
  if (heldBack.size > 0) memory.metrics?.allocationsHeldBack.inc(heldBack.size);
  for (const { index, group, ip } of chosen) {
    if (heldBack.has(group)) continue;
    results[index] = { ...written.get(`${group.id} ${ip}`)!, ip, subnetId: group.id, cidr: group.hint!.cidr };
  }
  return { results, heldBack };
}

/**
 * The guards of the groups' writes: the stamp each subnet's view was carried to, and the new one
 * the write sets — which the view is carried to from now on.
 */
export function advanceStamps(groups: Iterable<Group>): { subnetId: string; stamp: string; next: string }[] {
  return [...groups].map((group) => {
    const guard = { subnetId: group.id, stamp: group.carried!.stamp, next: randomUUID() };
    group.carried!.stamp = guard.next;
    return guard;
  });
}

export interface Chosen {
  index: number;
  group: Group;
  ip: string;
}

/** The rows to insert for the chosen addresses. */
export function rowsFor(requests: readonly AllocationRequest[], chosen: readonly Chosen[]): WrittenRow[] {
  return chosen.map(({ index, group, ip }) => {
    const request = requests[index]!;
    return { subnetId: group.id, ip, acceptObserved: request.acceptObserved === true, ...request.row };
  });
}

export interface RunChanges {
  removed: { subnetId: string; lo: string }[];
  added: { subnetId: string; lo: string; hi: string }[];
}
