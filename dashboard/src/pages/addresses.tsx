/**
 * Addresses: reserve one (the next free, or the one asked for) and release it, seeing the DHCP
 * state of the result — an address with a MAC is in the DHCP map, and the API answers once the
 * serving agents applied it (`wait`). Users reserve for themselves; admins also give devices and
 * sticky addresses, and see who holds how many. Viewers see, and are told why they cannot act.
 */
import { useState } from 'preact/hooks';
import { type Address, ApiProblem, enc, type OwnerHolding, type Page, query, type Subnet } from '../api.js';
import type { Route } from '../app.js';
import { DhcpBadge, ErrorNote, Loading, PagerControls, Section, Time, usePager } from '../components.js';
import { useLoad } from '../hooks.js';
import { useSession } from '../session.js';

const WAIT_MS = 5000;
const PAGE = 50;

export function AddressesPage({ route }: { route: Route }) {
  const { api, me } = useSession();
  // A user's own addresses first; admins and viewers (who hold none) see everyone's.
  const [mine, setMine] = useState(me.role === 'user');
  const [subnet, setSubnet] = useState(route.params.get('subnet') ?? '');
  const pager = usePager();
  const subnets = useLoad(() => api.get<Page<Subnet>>('/subnets?limit=1000'), []);
  const list = useLoad(
    () =>
      api.get<Page<Address>>(
        `/addresses${query({ owner: mine ? me.name : undefined, subnet: subnet || undefined, limit: PAGE, cursor: pager.cursor })}`,
      ),
    [mine, subnet, pager.cursor],
    { live: ['address.', 'dhcp.'] },
  );
  const [released, setReleased] = useState<Address | undefined>();
  const [failure, setFailure] = useState<string | undefined>();
  const release = async (address: Address) => {
    setFailure(undefined);
    try {
      setReleased(await api.delete<Address>(`/addresses/${enc(address.ip)}?subnet=${address.subnet}&wait=${WAIT_MS}`));
      list.reload();
    } catch (error) {
      setFailure(error instanceof Error ? error.message : String(error));
    }
  };
  const mayRelease = (a: Address) => me.role === 'admin' || (me.role === 'user' && a.owner === me.name);
  return (
    <div class="addresses">
      {me.role === 'viewer' ? (
        <Section title="Reserve an address">
          <p class="muted" id="viewer-note">
            You are signed in as a viewer: you can see every address, but reserving and releasing need a user or admin
            token.
          </p>
        </Section>
      ) : (
        <ReserveForm
          subnets={subnets.data?.items ?? []}
          initialSubnet={subnet}
          onDone={(address) => {
            // Show the new address among its subnet's, where the list would otherwise page past it.
            setSubnet(address.subnet);
            pager.reset();
            list.reload();
          }}
        />
      )}
      <Section
        title="Addresses"
        actions={
          <div class="filters">
            <label>
              <input
                type="checkbox"
                checked={mine}
                onChange={(e) => {
                  setMine(e.currentTarget.checked);
                  pager.reset();
                }}
              />{' '}
              mine only
            </label>
            <label>
              subnet{' '}
              <select
                value={subnet}
                onChange={(e) => {
                  setSubnet(e.currentTarget.value);
                  pager.reset();
                }}
              >
                <option value="">all</option>
                {subnets.data?.items.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.cidr}
                  </option>
                ))}
              </select>
            </label>
          </div>
        }
      >
        <ErrorNote error={list.error ?? failure} />
        {released && (
          <p class="result" role="status">
            Released {released.ip}. <DhcpBadge dhcp={released.dhcp} />
          </p>
        )}
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">IP</th>
                <th scope="col">kind</th>
                <th scope="col">MAC</th>
                <th scope="col">hostname</th>
                <th scope="col">owner</th>
                <th scope="col">last seen</th>
                <th scope="col">created</th>
                <th scope="col">
                  <span class="sr-only">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data?.items.map((a) => (
                <tr key={`${a.subnet}/${a.ip}`} data-ip={a.ip}>
                  <td>
                    <a href={`#/discoveries?q=${enc(a.ip)}`}>{a.ip}</a>
                    <div class="muted small">{a.cidr}</div>
                  </td>
                  <td>{a.kind}</td>
                  <td class="mono">{a.mac ?? ''}</td>
                  <td>{a.hostname ?? ''}</td>
                  <td>{a.owner}</td>
                  <td>
                    <Time at={a.lastSeen} />
                  </td>
                  <td>
                    <Time at={a.createdAt} />
                  </td>
                  <td>
                    {mayRelease(a) && (
                      <button type="button" class="danger" onClick={() => release(a)}>
                        Release
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {list.data?.items.length === 0 && <p class="muted">No addresses here.</p>}
        <PagerControls pager={pager} nextCursor={list.data?.nextCursor} shown={list.data?.items.length ?? 0} />
      </Section>
      {me.role === 'admin' && <Owners />}
    </div>
  );
}

/** The admin's overview: who holds how many addresses, of which kinds. */
function Owners() {
  const { api } = useSession();
  const owners = useLoad(() => api.get<{ items: OwnerHolding[] }>('/addresses/owners'), [], { live: ['address.'] });
  return (
    <Section title="Addresses per owner" actions={<Loading loading={owners.loading && owners.data === undefined} />}>
      <ErrorNote error={owners.error} />
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">owner</th>
              <th scope="col">role</th>
              <th scope="col">addresses</th>
              <th scope="col">by kind</th>
            </tr>
          </thead>
          <tbody>
            {owners.data?.items.map((o) => (
              <tr key={o.owner}>
                <td>{o.owner}</td>
                <td>{o.role}</td>
                <td>{o.total}</td>
                <td>
                  {Object.entries(o.byKind)
                    .map(([kind, n]) => `${kind} ${n}`)
                    .join(' · ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Section>
  );
}

export function ReserveForm(props: {
  subnets: Subnet[];
  initialSubnet?: string;
  initialIp?: string;
  onDone?: (address: Address) => void;
}) {
  const { api, me } = useSession();
  const [subnet, setSubnet] = useState(props.initialSubnet ?? '');
  const [kind, setKind] = useState('reserved');
  const [ip, setIp] = useState(props.initialIp ?? '');
  const [mac, setMac] = useState('');
  const [hostname, setHostname] = useState('');
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Address | undefined>();
  const [error, setError] = useState<string | undefined>();
  const chosen = subnet || props.subnets[0]?.id || '';
  const kinds = me.role === 'admin' ? ['reserved', 'device', 'sticky'] : ['reserved'];
  return (
    <Section title="Reserve an address">
      <form
        class="reserve"
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(undefined);
          setResult(undefined);
          const body = {
            subnet: chosen,
            kind,
            ip: ip.trim(),
            mac: mac.trim(),
            hostname: hostname.trim(),
            comment: comment.trim(),
          };
          const set = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== ''));
          try {
            const address = await api.post<Address>(`/addresses?wait=${WAIT_MS}`, set);
            setResult(address);
            props.onDone?.(address);
          } catch (failure) {
            setError(failure instanceof ApiProblem ? `${failure.message} (${failure.code})` : String(failure));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label>
          subnet
          <select value={chosen} onChange={(e) => setSubnet(e.currentTarget.value)} required>
            {props.subnets.map((s) => (
              <option key={s.id} value={s.id}>
                {s.cidr}
                {s.name ? ` · ${s.name}` : ''}
              </option>
            ))}
          </select>
        </label>
        <label>
          kind
          <select value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
            {kinds.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label>
          IP <span class="muted">(empty: the next free)</span>
          <input value={ip} onInput={(e) => setIp(e.currentTarget.value)} placeholder="10.0.0.20" />
        </label>
        <label>
          MAC {kind === 'reserved' && <span class="muted">(optional)</span>}
          <input
            value={mac}
            onInput={(e) => setMac(e.currentTarget.value)}
            placeholder="02:00:00:00:00:01"
            required={kind !== 'reserved'}
          />
        </label>
        <label>
          hostname
          <input value={hostname} onInput={(e) => setHostname(e.currentTarget.value)} />
        </label>
        <label>
          comment
          <input value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy || chosen === ''}>
          {busy ? 'Reserving…' : 'Reserve'}
        </button>
      </form>
      <ErrorNote error={error} />
      {result && (
        <p class="result" role="status" data-ip={result.ip}>
          Allocated <strong>{result.ip}</strong> ({result.kind}) in {result.cidr}. <DhcpBadge dhcp={result.dhcp} />
        </p>
      )}
    </Section>
  );
}

/** One address, opened from the map: what it is, and what may be done with it. */
export function AddressPanel({ ip, subnet, onClose }: { ip: string; subnet: Subnet; onClose: () => void }) {
  const { api, me } = useSession();
  const address = useLoad(
    () =>
      // The list, not GET /addresses/{ip}: a free address is an empty list, not a 404 in the console.
      api.get<Page<Address>>(`/addresses?ip=${enc(ip)}&subnet=${subnet.id}`).then((page) => page.items[0] ?? null),
    [ip, subnet.id],
    { live: ['address.', 'dhcp.'] },
  );
  const [released, setReleased] = useState<Address | undefined>();
  const [error, setError] = useState<string | undefined>();
  const a = address.data;
  return (
    <Section
      title={`Address ${ip}`}
      actions={
        <button type="button" class="link" onClick={onClose}>
          Close
        </button>
      }
    >
      <ErrorNote error={address.error ?? error} />
      {a && (
        <dl class="facts">
          <dt>kind</dt>
          <dd>{a.kind}</dd>
          <dt>owner</dt>
          <dd>{a.owner}</dd>
          <dt>MAC</dt>
          <dd class="mono">{a.mac ?? '—'}</dd>
          <dt>hostname</dt>
          <dd>{a.hostname ?? '—'}</dd>
          <dt>last seen</dt>
          <dd>
            <Time at={a.lastSeen} /> {a.seenMac && a.seenMac !== a.mac && <span class="warn">by {a.seenMac}</span>}
          </dd>
        </dl>
      )}
      {a && (me.role === 'admin' || (me.role === 'user' && a.owner === me.name)) && (
        <button
          type="button"
          class="danger"
          onClick={async () => {
            try {
              setReleased(await api.delete<Address>(`/addresses/${enc(ip)}?subnet=${subnet.id}&wait=${WAIT_MS}`));
              address.reload();
            } catch (failure) {
              setError(failure instanceof Error ? failure.message : String(failure));
            }
          }}
        >
          Release
        </button>
      )}
      {released && (
        <p class="result" role="status">
          Released. <DhcpBadge dhcp={released.dhcp} />
        </p>
      )}
      {a === null && me.role !== 'viewer' && (
        <ReserveForm subnets={[subnet]} initialSubnet={subnet.id} initialIp={ip} onDone={address.reload} />
      )}
      {a === null && me.role === 'viewer' && <p class="muted">Not allocated.</p>}
      <p>
        <a href={`#/discoveries?q=${enc(ip)}`}>What was seen on {ip}</a>
      </p>
    </Section>
  );
}
