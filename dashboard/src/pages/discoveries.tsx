/**
 * Discoveries: every binding the agents have seen, searched, sorted and paged by the API (a
 * segment may hold 50,000), the ones no allocation explains marked, each row's history a
 * click away. The search box takes an IP, a CIDR, a MAC or part of a hostname.
 */
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { type Discovery, enc, type HistoryEntry, type Page, query } from '../api.js';
import type { Route } from '../app.js';
import { ErrorNote, Loading, PagerControls, Section, Time, usePager } from '../components.js';
import { useLoad } from '../hooks.js';
import { useSession } from '../session.js';

const PAGE = 50;
const MAC = /^[0-9a-f]{2}([:-]?[0-9a-f]{2}){5}$/i;

/** What the search text names: the API filter it becomes. */
export function searchFilter(text: string): Record<string, string> {
  const q = text.trim();
  if (q === '') return {};
  if (q.includes('/')) return { subnet: q };
  if (MAC.test(q)) return { mac: q };
  if (/^[0-9.]+$/.test(q) && q.split('.').length === 4) return { ip: q };
  if (q.includes(':') && /^[0-9a-f:.]+$/i.test(q)) return { ip: q };
  return { hostname: q };
}

type Sort = 'ip' | 'lastSeen' | 'firstSeen';

export function DiscoveriesPage({ route }: { route: Route }) {
  const { api } = useSession();
  const [text, setText] = useState(route.params.get('q') ?? '');
  const [search, setSearch] = useState(text);
  const [unknown, setUnknown] = useState(route.params.get('unknown') === 'true');
  const [sort, setSort] = useState<Sort>('ip');
  const [open, setOpen] = useState<string | undefined>();
  const pager = usePager();
  const list = useLoad(
    () =>
      api.get<Page<Discovery>>(
        `/discoveries${query({ ...searchFilter(search), unknown: unknown || undefined, sort, limit: PAGE, cursor: pager.cursor })}`,
      ),
    [search, unknown, sort, pager.cursor],
    // Bindings change with every sighting: follow their events, and refresh what the page shows.
    { live: ['discovery.', 'address.', 'conflict.'], everyMs: 15_000 },
  );
  const sortBy = (next: Sort) => {
    setSort(next);
    pager.reset();
  };
  const header = (label: string, key?: Sort) =>
    key === undefined ? (
      <th scope="col">{label}</th>
    ) : (
      <th scope="col" aria-sort={sort === key ? (key === 'ip' ? 'ascending' : 'descending') : 'none'}>
        <button type="button" class="sort" onClick={() => sortBy(key)}>
          {label} {sort === key ? (key === 'ip' ? '▲' : '▼') : ''}
        </button>
      </th>
    );
  return (
    <Section title="Discoveries" actions={<Loading loading={list.loading && list.data === undefined} />}>
      <search>
        <form
          class="filters"
          onSubmit={(event) => {
            event.preventDefault();
            setSearch(text);
            pager.reset();
          }}
        >
          <label>
            <span class="sr-only">search</span>
            <input
              type="search"
              value={text}
              onInput={(e) => setText(e.currentTarget.value)}
              placeholder="IP, CIDR, MAC or hostname"
            />
          </label>
          <button type="submit">Search</button>
          <label>
            <input
              type="checkbox"
              checked={unknown}
              onChange={(e) => {
                setUnknown(e.currentTarget.checked);
                pager.reset();
              }}
            />{' '}
            unknown only
          </label>
        </form>
      </search>
      <ErrorNote error={list.error} />
      <div class="table-wrap">
        <table class="discoveries">
          <thead>
            <tr>
              {header('IP', 'ip')}
              {header('MAC')}
              {header('vendor')}
              {header('hostname')}
              {header('VLAN')}
              {header('agent')}
              {header('first seen', 'firstSeen')}
              {header('last seen', 'lastSeen')}
              {header('allocation')}
            </tr>
          </thead>
          <tbody>
            {list.data?.items.map((d) => {
              const key = `${d.ip}/${d.vlan}/${d.mac}`;
              return (
                <Fragment key={key}>
                  <tr class={d.address ? '' : 'unknown'} data-ip={d.ip}>
                    <td>
                      <button
                        type="button"
                        class="link"
                        aria-expanded={open === key}
                        onClick={() => setOpen(open === key ? undefined : key)}
                        title="history"
                      >
                        {d.ip}
                      </button>
                    </td>
                    <td class="mono">{d.mac}</td>
                    <td>{d.vendor ?? ''}</td>
                    <td>{d.hostnames.join(', ')}</td>
                    <td>{d.vlan}</td>
                    <td>
                      {d.agent} <span class="muted small">{d.interface}</span>
                    </td>
                    <td>
                      <Time at={d.firstSeen} />
                    </td>
                    <td>
                      <Time at={d.lastSeen} />
                    </td>
                    <td>
                      {d.address ? (
                        `${d.address.kind}${d.address.mac && d.address.mac !== d.mac ? ` (for ${d.address.mac})` : ''}`
                      ) : (
                        <span class="badge unknown-badge">unknown</span>
                      )}
                    </td>
                  </tr>
                  {open === key && (
                    <tr class="history-row">
                      <td colSpan={9}>
                        <History ip={d.ip} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      </div>
      {list.data?.items.length === 0 && <p class="muted">Nothing seen that matches.</p>}
      <PagerControls pager={pager} nextCursor={list.data?.nextCursor} shown={list.data?.items.length ?? 0} />
    </Section>
  );
}

function History({ ip }: { ip: string }) {
  const { api } = useSession();
  const history = useLoad(() => api.get<Page<HistoryEntry>>(`/discoveries/history?ip=${enc(ip)}&limit=50`), [ip]);
  return (
    <div class="history">
      <ErrorNote error={history.error} />
      <Loading loading={history.loading} />
      <ol>
        {history.data?.items.map((e, i) => (
          <li key={i}>
            <Time at={e.at} /> · {e.event} · <span class="mono">{e.mac}</span> · {e.source} via {e.agent} ({e.interface}
            )
            {e.previousMac && (
              <>
                {' '}
                (was <span class="mono">{e.previousMac}</span>)
              </>
            )}
            {e.hostname && ` · ${e.hostname}`}
          </li>
        ))}
      </ol>
    </div>
  );
}
