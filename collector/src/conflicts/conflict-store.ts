/**
 * Conflicts in the database: their lifecycle (DESIGN.md, "Conflicts") and their API view. A
 * conflict opens once per (kind, segment, subject) — the partial unique index decides, so that
 * two collectors judging the same frame open one — takes its evidence (the newest few), and
 * resolves when its condition has been absent for the quiet period, when a change of the
 * allocations removes it, or when an admin says so. Each change writes its event in the same
 * transaction.
 */
import type { ConflictKind } from '@ipwarden/ipam';
import { and, desc, eq, getTableColumns, lt, ne, type SQL, sql } from 'drizzle-orm';
import { type Database, pipelined, rowsOf, type Tx } from '../db/database.js';
import { addresses, type ConflictEvidence, type ConflictStatus, conflicts } from '../db/schema/index.js';
import { ApiError, ErrorCode } from '../errors.js';
import { appendEvents, type NewEvent } from '../events/event-log.js';
import { canonicalIp } from '../ipam/subnet-store.js';
import { isUuid } from '../paging.js';

/** Evidence kept per conflict: enough to see who and where, bounded however long it lasts. */
export const MAX_EVIDENCE = 10;

/** A conflict as the API shows it (API.md, "Conflicts and alerts"). */
export interface Conflict {
  id: string;
  kind: ConflictKind;
  ip: string;
  /** The MACs involved, the one seen last first. */
  macs: string[];
  vlan: number;
  outerVlan: number;
  subnet: string | null;
  address: string | null;
  status: ConflictStatus;
  firstSeen: string;
  lastSeen: string;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  comment: string | null;
  evidence: (Omit<ConflictEvidence, 'at'> & { at: string })[];
}

type Row = typeof conflicts.$inferSelect;

export function conflictView(row: Row): Conflict {
  return {
    id: row.id,
    kind: row.kind,
    ip: canonicalIp(row.ip),
    macs: Object.entries(row.macs)
      .sort(([, a], [, b]) => b - a)
      .map(([mac]) => mac),
    vlan: row.vlan,
    outerVlan: row.outerVlan,
    subnet: row.subnetId,
    address: row.addressId,
    status: row.status,
    firstSeen: row.firstSeen.toISOString(),
    lastSeen: row.lastSeen.toISOString(),
    acknowledgedBy: row.acknowledgedBy,
    acknowledgedAt: row.acknowledgedAt?.toISOString() ?? null,
    resolvedAt: row.resolvedAt?.toISOString() ?? null,
    resolvedBy: row.resolvedBy,
    comment: row.comment,
    evidence: row.evidence.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
  };
}

/** What one round of reconciliation found for one conflict (several sightings merged). */
export interface ConflictInput {
  kind: ConflictKind;
  vlan: number;
  outerVlan: number;
  subject: string;
  ip: string;
  /** MAC → when it was last seen as part of this conflict (ms). */
  macs: Record<string, number>;
  subnetId: string | null;
  addressId: string | null;
  firstAt: number;
  lastAt: number;
  /** Newest first, at most MAX_EVIDENCE. */
  evidence: ConflictEvidence[];
  /** Evidence for a conflict already open only (a MAC of a duplicate seen again): opens nothing. */
  updateOnly: boolean;
}

/** The live conflict's key, as the reconciler remembers it. */
export const conflictKey = (c: { kind: string; vlan: number; outerVlan: number; subject: string }) =>
  `${c.kind}|${c.vlan}|${c.outerVlan}|${c.subject}`;

/** The MACs of the conflict and the input, each at its latest time. */
const mergedMacs = (input: SQL) => sql`(select jsonb_object_agg(k, m) from (
    select k, max(v::float8) as m
    from (select * from jsonb_each_text(c.macs) union all select * from jsonb_each_text(${input}.macs)) as x(k, v)
    group by k) as y)`;

/**
 * When the condition last held: a duplicate needs two of its MACs, so it is the second-latest
 * time a MAC was seen; every other kind holds while its evidence comes.
 */
const conditionOf = (macs: SQL, last: SQL) => sql`case when c.kind = 'duplicate-ip'
    then (select to_timestamp(v / 1000.0) from (select value::float8 as v from jsonb_each_text(${macs})) as t
          order by v desc offset 1 limit 1)
    else ${last} end`;

const newestEvidence = (input: SQL) => sql`(select jsonb_agg(e order by (e->>'at')::float8 desc) from (
    select e from jsonb_array_elements(${input}.evidence || c.evidence) as e
    order by (e->>'at')::float8 desc limit ${sql.raw(String(MAX_EVIDENCE))}) as z)`;

const inputColumns = sql`kind text, vlan int, "outerVlan" int, subject text, ip text, macs jsonb, "subnetId" uuid,
  "addressId" uuid, "firstAt" float8, "lastAt" float8, evidence jsonb`;

/**
 * The live conflicts of the round's inputs `i` as they were, each found through the partial unique
 * index, with the input's columns: a join let the planner hash the whole table instead (a
 * just-truncated table's statistics say it is small), a sequential scan of every conflict per
 * round — 12,000 of them in bench:ingest's loaded phase. The update joins it by id alone.
 */
const liveBefore = sql`select c.id, c.macs as before_macs, i.* from i cross join lateral (
    select c.id, c.macs from ${conflicts} c
    where c.kind = i.kind and c.vlan = i.vlan and c.outer_vlan = i."outerVlan" and c.subject = i.subject
      and c.status <> 'resolved' offset 0) as c`;

/** The table's columns: a row a statement returned (`returning c.*`), as drizzle's select gives it. */
const COLUMNS = Object.entries(getTableColumns(conflicts));

function rowOf(raw: Record<string, unknown>): Row {
  return Object.fromEntries(
    COLUMNS.map(([key, column]) => {
      const value = raw[column.name];
      return [key, value === null || value === undefined ? null : column.mapFromDriverValue(value)];
    }),
  ) as Row;
}

/** A conflict as the statement that opened or updated it returned it (all its columns), and how. */
interface ChangedRow extends Record<string, unknown> {
  inserted: boolean;
  /** The MACs before this change, null for a conflict opened now. */
  before_macs: Record<string, number> | null;
}

/**
 * Records one round's findings in one transaction: opens what is new, adds evidence to what is
 * open, and writes `conflict.opened` and `conflict.updated` (a new MAC joined) events. Returns
 * the conflicts opened.
 */
export async function recordFindings(db: Database, inputs: readonly ConflictInput[]): Promise<Conflict[]> {
  const opening = inputs.filter((i) => !i.updateOnly);
  const updating = inputs.filter((i) => i.updateOnly);
  return db.transaction(async (tx) => {
    // Both statements at once, one round trip (their keys are distinct: one input per conflict).
    const statements: Promise<ChangedRow[]>[] = [];
    if (opening.length > 0) {
      statements.push(
        rowsOf<ChangedRow>(
          tx,
          sql`
          with i as (select * from json_to_recordset(${JSON.stringify(opening)}::json) as r(${inputColumns})),
          before as (${liveBefore}),
          up as (
            insert into ${conflicts} as c (kind, vlan, outer_vlan, subject, ip, macs, subnet_id, address_id,
                                          first_seen, last_seen, condition_at, evidence)
            select i.kind, i.vlan, i."outerVlan", i.subject, i.ip::inet, i.macs, i."subnetId",
                   coalesce(i."addressId", (select a.id from ${addresses} a
                                            where a.subnet_id = i."subnetId" and a.ip = i.ip::inet)),
                   to_timestamp(i."firstAt" / 1000.0), to_timestamp(i."lastAt" / 1000.0),
                   -- A duplicate's first evidence holds both its MACs at once.
                   to_timestamp(i."lastAt" / 1000.0), i.evidence
            from i
            on conflict (kind, vlan, outer_vlan, subject) where status <> 'resolved' do update set
              macs = ${mergedMacs(sql`excluded`)},
              last_seen = greatest(c.last_seen, excluded.last_seen),
              condition_at = greatest(c.condition_at, ${conditionOf(mergedMacs(sql`excluded`), sql`excluded.condition_at`)}),
              evidence = ${newestEvidence(sql`excluded`)},
              subnet_id = coalesce(excluded.subnet_id, c.subnet_id),
              address_id = coalesce(excluded.address_id, c.address_id)
            returning c.*, (xmax = 0) as inserted)
          select up.*, before.before_macs from up left join before on before.id = up.id`,
        ),
      );
    }
    if (updating.length > 0) {
      statements.push(
        rowsOf<ChangedRow>(
          tx,
          sql`
          with i as (select * from json_to_recordset(${JSON.stringify(updating)}::json) as r(${inputColumns})),
          before as (${liveBefore})
          update ${conflicts} as c set
            macs = ${mergedMacs(sql`i`)},
            last_seen = greatest(c.last_seen, to_timestamp(i."lastAt" / 1000.0)),
            condition_at = greatest(c.condition_at, ${conditionOf(mergedMacs(sql`i`), sql`to_timestamp(i."lastAt" / 1000.0)`)}),
            evidence = ${newestEvidence(sql`i`)}
          from before as i
          where c.id = i.id
          returning c.*, false as inserted, i.before_macs`,
        ),
      );
    }
    const changed = (await pipelined(statements)).flat();
    if (changed.length === 0) return [];
    const events: NewEvent[] = [];
    const opened: Conflict[] = [];
    for (const change of changed) {
      const row = rowOf(change);
      if (change.inserted) {
        const view = conflictView(row);
        opened.push(view);
        events.push({ type: 'conflict.opened', data: view });
      } else if (
        row.status === 'open' &&
        change.before_macs !== null &&
        Object.keys(row.macs).some((mac) => !(mac in change.before_macs!))
      ) {
        // An acknowledged conflict alerts no more until it resolves (DESIGN.md).
        events.push({ type: 'conflict.updated', data: conflictView(row) });
      }
    }
    await appendEvents(tx, events);
    return opened;
  });
}

/** Resolves the live conflicts whose condition has been absent since before `cutoff` (ms). */
export async function resolveQuiet(db: Database, cutoff: number): Promise<Conflict[]> {
  return resolveWhere(db, lt(conflicts.conditionAt, new Date(cutoff)), 'quiet');
}

/** Resolves the given live conflicts: the allocations or the plan no longer hold their condition. */
export async function resolveConflicts(db: Database, ids: readonly string[], by: string): Promise<Conflict[]> {
  if (ids.length === 0) return [];
  return resolveWhere(db, sql`${conflicts.id} = any(${`{${ids.join(',')}}`}::uuid[])`, by);
}

async function resolveWhere(db: Database, where: SQL | undefined, by: string, comment?: string): Promise<Conflict[]> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .update(conflicts)
      .set({ status: 'resolved', resolvedBy: by, resolvedAt: new Date(), ...(comment !== undefined && { comment }) })
      .where(and(ne(conflicts.status, 'resolved'), where))
      .returning();
    const views = rows.map(conflictView);
    await appendEvents(
      tx,
      views.map((data) => ({ type: 'conflict.resolved', data })),
    );
    return views;
  });
}

/** An admin resolves a conflict (it may open again if its offender goes on). */
export async function resolveByUser(db: Database, id: string, user: string, comment?: string): Promise<Conflict> {
  const existing = await findConflict(db, id);
  if (existing.status === 'resolved') return existing;
  const [resolved] = await resolveWhere(db, eq(conflicts.id, id), user, comment);
  return resolved ?? findConflict(db, id);
}

/** An admin acknowledges a conflict: it stays open, marked, and alerts no more until it resolves. */
export async function acknowledge(db: Database, id: string, user: string, comment?: string): Promise<Conflict> {
  const existing = await findConflict(db, id);
  if (existing.status !== 'open') return existing;
  return db.transaction(async (tx: Tx) => {
    const [row] = await tx
      .update(conflicts)
      .set({
        status: 'acknowledged',
        acknowledgedBy: user,
        acknowledgedAt: new Date(),
        ...(comment !== undefined && { comment }),
      })
      .where(and(eq(conflicts.id, id), eq(conflicts.status, 'open')))
      .returning();
    if (row === undefined) return findConflict(db, id);
    const view = conflictView(row);
    await appendEvents(tx, [{ type: 'conflict.acknowledged', data: view }]);
    return view;
  });
}

export async function findConflict(db: Database, id: string): Promise<Conflict> {
  if (!isUuid(id)) throw new ApiError(ErrorCode.NOT_FOUND, `no conflict ${id}`);
  const [row] = await db.select().from(conflicts).where(eq(conflicts.id, id));
  if (row === undefined) throw new ApiError(ErrorCode.NOT_FOUND, `no conflict ${id}`);
  return conflictView(row);
}

/** What the reconciler reads of a live conflict, and the agents whose evidence it holds. */
export type LiveRow = Pick<Row, 'kind' | 'vlan' | 'outerVlan' | 'subject' | 'ip'> & { agents: string[] };

/** The live conflicts (open or acknowledged), for the reconciler's memory and the watch lists. */
export async function liveConflicts(db: Database, limit: number): Promise<LiveRow[]> {
  // The evidence's agent ids as one jsonb array, made unique here: a subquery unnesting each
  // row's evidence and sorting it was 30 ms a read with 15,000 conflicts open (bench:ingest), and
  // the reconciler reads them every second.
  const rows = await db
    .select({
      kind: conflicts.kind,
      vlan: conflicts.vlan,
      outerVlan: conflicts.outerVlan,
      subject: conflicts.subject,
      ip: conflicts.ip,
      agents: sql<string[]>`jsonb_path_query_array(${conflicts.evidence}, '$[*].agentId')`,
    })
    .from(conflicts)
    .where(ne(conflicts.status, 'resolved'))
    .orderBy(desc(conflicts.lastSeen))
    .limit(limit);
  for (const row of rows) row.agents = [...new Set(row.agents)];
  return rows;
}

export interface ConflictFilter {
  status?: ConflictStatus;
  kind?: ConflictKind;
  /** A prefix (the subnet's CIDR) the address lies in. */
  cidr?: string;
  ip?: string;
  mac?: string;
  limit: number;
  /** The last of the page before: newest first, by first sight, then id. */
  after?: { firstSeen: string; id: string };
}

/** First sight to the millisecond, as the API shows it and a cursor holds it. */
const firstSeenMs = sql`date_trunc('milliseconds', ${conflicts.firstSeen})`;

export async function listConflicts(db: Database, filter: ConflictFilter): Promise<Conflict[]> {
  const rows = await db
    .select()
    .from(conflicts)
    .where(
      and(
        filter.status === undefined ? undefined : eq(conflicts.status, filter.status),
        filter.kind === undefined ? undefined : eq(conflicts.kind, filter.kind),
        filter.cidr === undefined ? undefined : sql`${conflicts.ip} <<= ${filter.cidr}::cidr`,
        filter.ip === undefined ? undefined : sql`${conflicts.ip} = ${filter.ip}::inet`,
        filter.mac === undefined ? undefined : sql`${conflicts.macs} ? ${filter.mac}`,
        filter.after === undefined
          ? undefined
          : sql`(${firstSeenMs}, ${conflicts.id}) < (${filter.after.firstSeen}::timestamptz, ${filter.after.id}::uuid)`,
      ),
    )
    .orderBy(desc(firstSeenMs), desc(conflicts.id))
    .limit(filter.limit);
  return rows.map(conflictView);
}

/** How many conflicts are live (open or acknowledged), by kind. */
export async function liveCounts(
  db: Database,
): Promise<{ kind: ConflictKind; status: ConflictStatus; count: number }[]> {
  const rows = await db
    .select({ kind: conflicts.kind, status: conflicts.status, count: sql<number>`count(*)::int` })
    .from(conflicts)
    .where(ne(conflicts.status, 'resolved'))
    .groupBy(conflicts.kind, conflicts.status);
  return rows.map((row) => ({ kind: row.kind, status: row.status, count: Number(row.count) }));
}
