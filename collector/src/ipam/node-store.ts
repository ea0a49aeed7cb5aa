/**
 * Nodes, MAAS-style (API.md, "Nodes"): machines with their interfaces, deployed on a subnet
 * (the boot interface gets its sticky address, or an auto one) and released (auto and extra
 * addresses freed, virtual interfaces forgotten, sticky kept); deleting a node frees everything
 * it held.
 */
import { and, asc, eq, gt, inArray } from 'drizzle-orm';
import type { Principal } from '../auth/users.js';
import type { Database } from '../db/database.js';
import { addresses, nodeInterfaces, nodes } from '../db/schema/index.js';
import { ApiError, ErrorCode } from '../errors.js';
import {
  type Address,
  ALL,
  allocateAddress,
  checkHostname,
  checkMac,
  freeAddresses,
  readAddresses,
} from './address-store.js';
import type { Allocator } from './allocator.js';
import { findSubnet } from './subnet-store.js';

export interface NodeInterface {
  mac: string;
  name: string | null;
  virtual: boolean;
}

export interface Node {
  id: string;
  hostname: string;
  interfaces: NodeInterface[];
  addresses: Address[];
  createdAt: string;
}

export interface NodeInput {
  hostname: string;
  interfaces: { mac: string; name?: string; virtual?: boolean }[];
}

export async function findNode(db: Database, id: string): Promise<Node> {
  const [node] = await nodesOf(db, await db.select().from(nodes).where(eq(nodes.id, id)));
  if (node === undefined) throw new ApiError(ErrorCode.NOT_FOUND, `no node ${id}`);
  return node;
}

/** Nodes by hostname; `after` (a page's last hostname) and `limit` for keyset pagination. */
export async function listNodes(db: Database, page: { limit?: number; after?: string } = {}): Promise<Node[]> {
  const rows = await db
    .select()
    .from(nodes)
    .where(page.after === undefined ? undefined : gt(nodes.hostname, page.after))
    .orderBy(asc(nodes.hostname))
    .limit(page.limit ?? 1000);
  return nodesOf(db, rows);
}

/** The nodes of `rows` whole: their interfaces and addresses read for all of them at once. */
async function nodesOf(db: Database, rows: (typeof nodes.$inferSelect)[]): Promise<Node[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.id);
  const interfaces = await db
    .select({
      nodeId: nodeInterfaces.nodeId,
      mac: nodeInterfaces.mac,
      name: nodeInterfaces.name,
      virtual: nodeInterfaces.virtual,
    })
    .from(nodeInterfaces)
    .where(inArray(nodeInterfaces.nodeId, ids))
    .orderBy(asc(nodeInterfaces.nodeId), asc(nodeInterfaces.position));
  const held = await readAddresses(db, { nodeIds: ids, limit: ALL });
  const nicsBy = new Map<string, NodeInterface[]>(ids.map((id) => [id, []]));
  for (const { nodeId, ...nic } of interfaces) nicsBy.get(nodeId)!.push(nic);
  const addressesBy = new Map<string, Address[]>(ids.map((id) => [id, []]));
  for (const address of held) addressesBy.get(address.node!)!.push(address);
  return rows.map((row) => ({
    id: row.id,
    hostname: row.hostname,
    interfaces: nicsBy.get(row.id)!,
    addresses: addressesBy.get(row.id)!,
    createdAt: row.createdAt.toISOString(),
  }));
}

export async function createNode(db: Database, input: NodeInput): Promise<Node> {
  const hostname = checkHostname('hostname', input.hostname);
  const interfaces = input.interfaces.map((nic, i) => ({ ...nic, mac: checkMac(`interfaces[${i}].mac`, nic.mac) }));
  const macs = interfaces.map((nic) => nic.mac);
  if (new Set(macs).size !== macs.length) {
    throw new ApiError(ErrorCode.VALIDATION_FAILED, 'a MAC is listed twice', [
      { field: 'interfaces', message: 'a MAC is listed twice' },
    ]);
  }
  const id = await db.transaction(async (tx) => {
    const [taken] = await tx.select({ id: nodes.id }).from(nodes).where(eq(nodes.hostname, hostname));
    if (taken !== undefined) throw new ApiError(ErrorCode.NAME_TAKEN, `a node named "${hostname}" exists`);
    const [claimed] =
      macs.length === 0
        ? []
        : await tx.select({ mac: nodeInterfaces.mac }).from(nodeInterfaces).where(inArray(nodeInterfaces.mac, macs));
    if (claimed !== undefined)
      throw new ApiError(ErrorCode.MAC_IN_USE, `${claimed.mac} is an interface of another node`);
    const [row] = await tx.insert(nodes).values({ hostname }).returning({ id: nodes.id });
    if (interfaces.length > 0) {
      await tx.insert(nodeInterfaces).values(
        interfaces.map((nic, position) => ({
          nodeId: row!.id,
          mac: nic.mac,
          name: nic.name ?? null,
          virtual: nic.virtual ?? false,
          position,
        })),
      );
    }
    return row!.id;
  });
  return findNode(db, id);
}

/**
 * Deploys the node on `subnet`: its boot interface (the first physical one) keeps the address
 * it holds there, else takes its sticky address, else gets an auto address. Idempotent.
 */
export async function deployNode(
  db: Database,
  allocator: Allocator,
  principal: Principal,
  id: string,
  subnetRef: string,
): Promise<Address> {
  const node = await findNode(db, id);
  const boot = node.interfaces.find((nic) => !nic.virtual);
  if (boot === undefined) {
    throw new ApiError(ErrorCode.VALIDATION_FAILED, `node ${node.hostname} has no physical interface to boot from`);
  }
  const subnet = await findSubnet(db, subnetRef);
  const held = node.addresses.find((a) => a.subnet === subnet.id && (a.kind === 'sticky' || a.kind === 'auto'));
  if (held !== undefined) return held;
  const [sticky] = await readAddresses(db, { subnetId: subnet.id, mac: boot.mac, kind: 'sticky' });
  if (sticky !== undefined) {
    await db
      .update(addresses)
      .set({ nodeId: id })
      .where(and(eq(addresses.subnetId, subnet.id), eq(addresses.kind, 'sticky'), eq(addresses.mac, boot.mac)));
    return { ...sticky, node: id };
  }
  return allocateAddress(
    db,
    allocator,
    principal,
    { subnet: subnet.id, kind: 'auto', mac: boot.mac, hostname: node.hostname, node: id },
    true,
  );
}

/** Releases the node: auto and extra addresses freed, virtual interfaces forgotten; sticky stays. */
export async function releaseNode(db: Database, id: string): Promise<Node> {
  const node = await findNode(db, id);
  await db.transaction(async (tx) => {
    await freeAddresses(
      tx,
      node.addresses.filter((a) => a.kind === 'auto' || a.kind === 'extra'),
    );
    await tx.delete(nodeInterfaces).where(and(eq(nodeInterfaces.nodeId, id), eq(nodeInterfaces.virtual, true)));
  });
  return findNode(db, id);
}

/** Deletes the node and frees every address it held, sticky ones too. */
export async function deleteNode(db: Database, id: string): Promise<void> {
  const node = await findNode(db, id);
  await db.transaction(async (tx) => {
    await freeAddresses(tx, node.addresses);
    await tx.delete(nodes).where(eq(nodes.id, id));
  });
}
