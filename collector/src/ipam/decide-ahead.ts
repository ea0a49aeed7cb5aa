/**
 * A batch decided ahead (allocator.ts): from the views its subnets' last batches left, with no
 * read, and written in one statement that checks they still hold.
 */
import { BatchPicker, contains, firstOf, formatIp, lastOf, parseIp } from '@ipwarden/ipam';
import type { Tx } from '../db/database.js';
import type { AllocationRequest } from './allocator.js';
import { type Group, groupsOf, wantOf } from './batch-groups.js';
import { advanceStamps, answers, chosenIn, type Result, rowsFor } from './batch-outcome.js';
import { write } from './batch-write.js';
import { CARRY_MS, drop, type Memory } from './subnet-memory.js';

/** Rounds of addresses a batch decided ahead may take to be unused before it is read instead. */
const MAX_ASSUMED_ROUNDS = 4;

/**
 * The batch decided from the views its subnets' last batches left, with no read — or undefined
 * (nothing chosen) when some subnet has no view young enough, or a request needs a read or would
 * be refused: refusals are answered from what the database says.
 */
export function planAhead(
  requests: readonly AllocationRequest[],
  memory: Memory,
  random: (bound: bigint) => bigint,
): Group[] | undefined {
  const groups = groupsOf(requests);
  const ids = [...groups.keys()].sort();
  const planned: Group[] = [];
  const giveUp = () => {
    for (const group of planned) group.view!.discard();
    return undefined;
  };
  const now = performance.now();
  for (const id of ids) {
    const group = groups.get(id)!;
    const carried = memory.carried.get(id);
    const hint = memory.hints.get(id);
    if (carried === undefined || hint === undefined) return giveUp();
    if (now - carried.readAt > CARRY_MS) {
      memory.carried.delete(id);
      return giveUp();
    }
    const { prefix } = hint;
    Object.assign(group, { prefix, hint, view: carried.view, carried });
    for (const i of group.indexes) {
      const request = requests[i]!;
      let wanted: bigint | undefined;
      if (request.ip !== undefined) {
        const ip = parseIp(request.ip);
        if (ip === undefined || ip.family !== prefix.family || !contains(prefix, ip)) return giveUp();
        wanted = ip.value;
      }
      group.wants.push(wantOf(request, hint, wanted));
      group.wantOf.push(i);
    }
    planned.push(group);
    group.picker = new BatchPicker(carried.view, group.wants, random);
    group.assumed = [];
    const [first, last] = [firstOf(prefix), lastOf(prefix)];
    for (let round = 0; ; round++) {
      const reads = group.picker.step();
      if (reads.from.length + reads.around.length === 0) break;
      // A window of runs (a lowest-free search past what is known) is read first. An address
      // asked for, or drawn at random, with its neighbours, is taken to be unused — in a subnet
      // too big to have been read, as a /64 is, it nearly always is — and the write checks it
      // (holding the subnet back if not; the view then goes, assumption and all).
      if (reads.from.length > 0 || round === MAX_ASSUMED_ROUNDS) return giveUp();
      for (const v of reads.around) {
        for (const [lo, hi] of carried.view.unreadRuns(v > first ? v - 1n : v, v < last ? v + 1n : v)) {
          carried.view.learnRuns(lo, hi, []);
          group.assumed.push([lo, hi]);
        }
        carried.view.learnSeen(v, v, []);
      }
    }
    if (group.picker.outcomes.some((o) => o?.outcome !== 'allocated')) return giveUp();
  }
  return planned;
}

/**
 * One statement, a transaction of its own: the write, which locks the subnets and checks that
 * the views still hold.
 */
export async function decideAhead(
  tx: Tx,
  requests: readonly AllocationRequest[],
  planned: Group[],
  memory: Memory,
  sent: () => void,
): Promise<Result[]> {
  const { chosen, runs } = chosenIn(planned);
  const assumed = planned.flatMap((group) => {
    const text = (value: bigint) => formatIp({ family: group.prefix!.family, value });
    return group.assumed!.map(([lo, hi]) => ({ subnetId: group.id, lo: text(lo), hi: text(hi) }));
  });
  const guards = advanceStamps(planned);
  const { windowSeconds } = planned[0]!.hint!;
  const writing = write(tx, rowsFor(requests, chosen), runs, guards, windowSeconds, assumed);
  for (const group of planned) group.view!.settle();
  sent();
  let written: Awaited<typeof writing>;
  try {
    written = await writing;
  } catch (error) {
    for (const group of planned) drop(memory, group.id, group.carried!.epoch);
    throw error;
  }
  return answers(requests, chosen, written, memory).results;
}
