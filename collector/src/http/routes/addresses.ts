/** Addresses, the allocations table (API.md): allocate, list, change and release. */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { inMaps } from '../../dhcp/dhcp-wait.js';
import { announceAddresses } from '../../events/address-events.js';
import {
  type Address,
  addressOwners,
  allocateAddress,
  findAddress,
  listAddresses,
  releaseAddress,
  updateAddress,
} from '../../ipam/address-store.js';
import { isUuid, type Key, paged } from '../../paging.js';
import { ADMIN, READ, requireRole, WRITE } from '../auth.js';
import type { AppContext } from '../context.js';
import { isAddress, Limit, PageQuery, Text, Uuid, Wait, Waiting } from '../schemas.js';

const Kind = Type.Union([
  Type.Literal('reserved'),
  Type.Literal('device'),
  Type.Literal('sticky'),
  Type.Literal('auto'),
  Type.Literal('extra'),
  Type.Literal('claim'),
]);
const Owned = {
  mac: Text(64),
  hostname: Text(253),
  comment: Text(1024),
};
const NewAddress = Type.Object(
  {
    subnet: Text(64),
    kind: Kind,
    ip: Type.Optional(Text(64)),
    node: Type.Optional(Uuid),
    ...Type.Partial(Type.Object(Owned)).properties,
    force: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const Reservation = Type.Partial(Type.Object({ ip: Text(64), ...Owned }), { additionalProperties: false });
const AddressChange = Type.Partial(
  Type.Object({
    mac: Type.Union([Text(64), Type.Null()]),
    hostname: Type.Union([Text(253), Type.Null()]),
    comment: Type.Union([Text(1024), Type.Null()]),
  }),
  { additionalProperties: false },
);
const IpParams = Type.Object({ ip: Text(64) }, { additionalProperties: false });
const SubnetParams = Type.Object({ subnet: Text(64) }, { additionalProperties: false });
const InSubnet = Type.Partial(Type.Object({ subnet: Text(64), wait: Wait }), { additionalProperties: false });
const InSubnetOnly = Type.Partial(Type.Object({ subnet: Text(64) }), { additionalProperties: false });

const ListQuery = Type.Partial(
  Type.Object({ ...PageQuery, subnet: Text(64), ip: Text(64), kind: Kind, owner: Text(64), mac: Text(64), node: Uuid }),
  { additionalProperties: false },
);

export async function addressRoutes(
  app: FastifyInstance,
  { db, allocator, principals, reconciler, dhcp }: AppContext,
): Promise<void> {
  const withDhcp = (address: Address, touched: boolean, wait?: number) => dhcp.waits.withDhcp(address, touched, wait);

  app.post<{ Body: Static<typeof NewAddress>; Querystring: Static<typeof Waiting> }>(
    '/addresses',
    { schema: { body: NewAddress, querystring: Waiting }, onRequest: requireRole(principals, WRITE) },
    async (request, reply) => {
      const address = await allocateAddress(db, allocator, request.principal!, request.body);
      await announceAddresses(db, 'address.created', [address]);
      await reconciler.changed({ ips: [address.ip] });
      return reply.code(201).send(await withDhcp(address, inMaps(address), request.query.wait));
    },
  );

  app.post<{ Params: Static<typeof SubnetParams>; Body: Static<typeof Reservation> }>(
    '/subnets/:subnet/reserve',
    // A reservation is in no DHCP map: nothing to wait for.
    { schema: { params: SubnetParams, body: Reservation }, onRequest: requireRole(principals, WRITE) },
    async (request, reply) => {
      const address = await allocateAddress(db, allocator, request.principal!, {
        ...request.body,
        subnet: request.params.subnet,
        kind: 'reserved',
      });
      await announceAddresses(db, 'address.created', [address]);
      await reconciler.changed({ ips: [address.ip] });
      return reply.code(201).send(address);
    },
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/addresses',
    { schema: { querystring: ListQuery }, onRequest: requireRole(principals, READ) },
    async (request) => {
      const { cursor, limit = Limit.default, ...filter } = request.query;
      const key = { types: ['string', 'string'], valid: ([ip, id]: Key) => isAddress(ip) && isUuid(id) } as const;
      return paged(
        cursor,
        limit,
        (rows, after) =>
          listAddresses(db, {
            ...filter,
            limit: rows,
            cursor: after === undefined ? undefined : { ip: after[0] as string, subnetId: after[1] as string },
          }),
        { ...key, of: (a) => [a.ip, a.subnet] },
      );
    },
  );

  app.get('/addresses/owners', { onRequest: requireRole(principals, ADMIN) }, async () => ({
    items: await addressOwners(db),
  }));

  app.get<{ Params: Static<typeof IpParams>; Querystring: Static<typeof InSubnetOnly> }>(
    '/addresses/:ip',
    { schema: { params: IpParams, querystring: InSubnetOnly }, onRequest: requireRole(principals, READ) },
    async (request) => findAddress(db, request.params.ip, request.query.subnet),
  );

  app.patch<{
    Params: Static<typeof IpParams>;
    Querystring: Static<typeof InSubnet>;
    Body: Static<typeof AddressChange>;
  }>(
    '/addresses/:ip',
    {
      schema: { params: IpParams, querystring: InSubnet, body: AddressChange },
      onRequest: requireRole(principals, WRITE),
    },
    async (request) => {
      const address = await updateAddress(
        db,
        request.principal!,
        request.params.ip,
        request.body,
        request.query.subnet,
      );
      await announceAddresses(db, 'address.changed', [address]);
      await reconciler.changed({ ips: [address.ip] });
      // A MAC given, changed or taken away, or a new name, changes the maps.
      const touched = inMaps(address) || request.body.mac !== undefined;
      return withDhcp(address, touched, request.query.wait);
    },
  );

  app.delete<{ Params: Static<typeof IpParams>; Querystring: Static<typeof InSubnet> }>(
    '/addresses/:ip',
    { schema: { params: IpParams, querystring: InSubnet }, onRequest: requireRole(principals, WRITE) },
    async (request, reply) => {
      const released = await releaseAddress(db, request.principal!, request.params.ip, request.query.subnet);
      await announceAddresses(db, 'address.released', [released]);
      await reconciler.changed({ ips: [released.ip] });
      // The address as it was, with where the DHCP maps stand now that it has left them.
      return reply.code(200).send(await withDhcp(released, inMaps(released), request.query.wait));
    },
  );
}
