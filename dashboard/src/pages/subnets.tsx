/**
 * Subnets: each subnet with how it is used, and its address map (a cell per address up to a
 * /16, summary blocks beyond). Hover tells why a cell looks as it does — the allocation and the
 * last sighting with its agent and time, fetched for the address under the pointer — and a
 * click opens the address, where it can be reserved or released.
 */
import { useEffect, useState } from 'preact/hooks';
import { AddressMapView, describeCell, type HoverInfo, LOOKS } from '../address-map.js';
import {
  type Address,
  type AddressMap,
  type Discovery,
  enc,
  type Page,
  type Subnet,
  type Utilization,
} from '../api.js';
import type { Route } from '../app.js';
import { ErrorNote, Loading, Section, Time } from '../components.js';
import { count } from '../format.js';
import { useLoad, useWidth } from '../hooks.js';
import { useSession } from '../session.js';
import { AddressPanel } from './addresses.js';

const LIVE = ['conflict.', 'address.', 'discovery.', 'dhcp.'] as const;

export function SubnetsPage({ route }: { route: Route }) {
  const { api } = useSession();
  const subnets = useLoad(() => api.get<Page<Subnet>>('/subnets?limit=1000'), [], { live: ['address.'] });
  const chosen = route.params.get('subnet') ?? subnets.data?.items[0]?.id;
  const subnet = subnets.data?.items.find((s) => s.id === chosen || s.cidr === chosen);
  return (
    <div class="subnets">
      <Section title="Subnets" actions={<Loading loading={subnets.loading && subnets.data === undefined} />}>
        <ErrorNote error={subnets.error} />
        {subnets.data?.items.length === 0 && (
          <p class="muted">No subnets yet: an admin creates them (POST /subnets).</p>
        )}
        <ul class="subnet-list">
          {subnets.data?.items.map((s) => (
            <li key={s.id}>
              <a href={`#/subnets?subnet=${s.id}`} aria-current={s.id === subnet?.id ? 'true' : undefined}>
                <strong>{s.cidr}</strong> {s.name && <span>{s.name}</span>} <span class="muted">VLAN {s.vlan}</span>
              </a>
            </li>
          ))}
        </ul>
      </Section>
      {subnet && <SubnetDetail key={subnet.id} subnet={subnet} />}
    </div>
  );
}

function SubnetDetail({ subnet }: { subnet: Subnet }) {
  const { api } = useSession();
  const usage = useLoad(() => api.get<Utilization>(`/subnets/${subnet.id}/utilization`), [subnet.id], { live: LIVE });
  const map = useLoad(() => api.get<AddressMap>(`/subnets/${subnet.id}/map`), [subnet.id], { live: LIVE });
  const [selected, setSelected] = useState<string | undefined>();
  const [hover, setHover] = useState<HoverInfo | null>(null);
  const [ref, width] = useWidth<HTMLDivElement>();
  const u = usage.data;
  return (
    <>
      <Section
        title={`${subnet.cidr}${subnet.name ? ` · ${subnet.name}` : ''}`}
        actions={<Loading loading={(usage.loading && !usage.data) || (map.loading && !map.data)} />}
      >
        {u && (
          <dl class="counts">
            <div>
              <dt>addresses</dt>
              <dd>{count(u.total)}</dd>
            </div>
            <div>
              <dt>allocated</dt>
              <dd>{count(u.allocated.total)}</dd>
            </div>
            <div>
              <dt>dynamic</dt>
              <dd>{count(u.dynamic)}</dd>
            </div>
            <div>
              <dt>reserved ranges</dt>
              <dd>{count(u.reserved)}</dd>
            </div>
            <div>
              <dt>seen, not allocated</dt>
              <dd>{count(u.observedUnallocated)}</dd>
            </div>
            <div>
              <dt>free</dt>
              <dd>{count(u.free)}</dd>
            </div>
          </dl>
        )}
        <ErrorNote error={usage.error ?? map.error} />
        <div class="map-wrap" ref={ref}>
          {map.data && width > 0 && (
            <AddressMapView
              map={map.data}
              width={width}
              onHover={setHover}
              onSelect={(ip, block) => (block === undefined ? setSelected(ip) : setSelected(undefined))}
            />
          )}
          {map.data?.blocks && (
            <p class="muted">
              {map.data.family === 6 ? 'An IPv6 subnet' : 'A subnet larger than a /16'} is drawn as{' '}
              {map.data.blocks.length} blocks of {count(map.data.blockSize ?? '0')} addresses each.
            </p>
          )}
        </div>
        <Legend />
        {hover && <Tooltip hover={hover} subnet={subnet} />}
      </Section>
      {selected && <AddressPanel key={selected} ip={selected} subnet={subnet} onClose={() => setSelected(undefined)} />}
    </>
  );
}

function Legend() {
  return (
    <ul class="legend" aria-label="legend">
      {Object.entries(LOOKS).map(([name, [colour, words]]) => (
        <li key={name}>
          <span class="swatch" style={{ background: colour }} /> {words}
        </li>
      ))}
    </ul>
  );
}

/** What the pointer is on, and — a moment later — its allocation and last sighting. */
function Tooltip({ hover, subnet }: { hover: HoverInfo; subnet: Subnet }) {
  const { api } = useSession();
  const [detail, setDetail] = useState<{ address?: Address | null; sighting?: Discovery | null }>({});
  const { ip, block } = hover;
  useEffect(() => {
    setDetail({});
    if (block !== undefined) return;
    const timer = setTimeout(async () => {
      const [address, sightings] = await Promise.all([
        api
          .get<Page<Address>>(`/addresses?ip=${enc(ip)}&subnet=${subnet.id}`)
          .then((page) => page.items[0] ?? null)
          .catch(() => undefined),
        api.get<Page<Discovery>>(`/discoveries?ip=${enc(ip)}&sort=lastSeen&limit=1`).catch(() => undefined),
      ]);
      setDetail({ address, sighting: sightings === undefined ? undefined : (sightings.items[0] ?? null) });
    }, 120);
    return () => clearTimeout(timer);
  }, [ip, block, api, subnet.id]);
  const style = { left: `${Math.min(hover.x + 14, innerWidth - 300)}px`, top: `${hover.y + 14}px` };
  return (
    <div class="tooltip" role="tooltip" style={style}>
      {block ? (
        <>
          <strong>from {block.first}</strong>
          <div>
            {block.allocated} allocated · {block.seenUnallocated} seen, not allocated · {block.conflicts} in conflict
          </div>
          <div>
            {Math.round(block.dynamic * 100)}% dynamic · {Math.round(block.reserved * 100)}% reserved
          </div>
        </>
      ) : (
        <>
          <strong>{ip}</strong>
          <div>{describeCell(hover.cell)}</div>
          {detail.address && (
            <div>
              {detail.address.kind} for {detail.address.owner}
              {detail.address.mac && ` · ${detail.address.mac}`}
              {detail.address.hostname && ` · ${detail.address.hostname}`}
            </div>
          )}
          {detail.sighting && (
            <div>
              seen <Time at={detail.sighting.lastSeen} /> by {detail.sighting.agent} ({detail.sighting.interface}):{' '}
              {detail.sighting.mac}
            </div>
          )}
          {detail.sighting === null && <div class="muted">no sighting</div>}
        </>
      )}
    </div>
  );
}
