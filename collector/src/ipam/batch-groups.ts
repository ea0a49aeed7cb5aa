/**
 * A batch of the allocator (allocator.ts) by subnet: each subnet's part of it, and what each of
 * its requests may be given, however the batch is decided.
 */
import type { BatchPicker, Prefix, SubnetView, Want } from '@ipwarden/ipam';
import type { AllocationRequest } from './allocator.js';
import type { Carried, Hint, Seen } from './subnet-memory.js';

/** One subnet's part of a batch. */
export interface Group {
  id: string;
  indexes: number[];
  prefix?: Prefix;
  view?: SubnetView<Seen>;
  picker?: BatchPicker<Seen>;
  wants: Want[];
  /** For each want, the request it came from. */
  wantOf: number[];
  /** What the batch knows of the subnet's row: its CIDR, policy, window and what it never hands out. */
  hint?: Hint;
  /** The view carried from the subnet's last batch, or made by this one, and so its stamp. */
  carried?: Carried;
  /** Decided ahead: the stretches taken to hold no run (unread ones, around an address), for the write to check. */
  assumed?: [bigint, bigint][];
}

/** The batch's requests by subnet. */
export function groupsOf(requests: readonly AllocationRequest[]): Map<string, Group> {
  const groups = new Map<string, Group>();
  for (const [i, request] of requests.entries()) {
    const group = groups.get(request.subnetId) ?? { id: request.subnetId, indexes: [], wants: [], wantOf: [] };
    group.indexes.push(i);
    groups.set(request.subnetId, group);
  }
  return groups;
}

/** What a request of a subnet may be given, as the picker takes it. */
export function wantOf(request: AllocationRequest, hint: Hint, wanted?: bigint, candidate?: bigint): Want {
  return {
    available: request.within === undefined ? hint.outsidePools : request.within.minus(hint.neverInPool),
    policy: request.policy ?? hint.policy,
    wanted,
    acceptObserved: request.acceptObserved === true,
    candidate,
  };
}
