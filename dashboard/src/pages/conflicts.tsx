/**
 * Conflicts: open and recent ones with their evidence (which agent saw which MAC, how and
 * when); admins acknowledge (it stays open, marked) or resolve. New ones appear as the
 * collector opens them, from GET /events.
 */
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { type Conflict, type Page, query } from '../api.js';
import type { Route } from '../app.js';
import { ErrorNote, Loading, PagerControls, Section, Time, usePager } from '../components.js';
import { useLoad } from '../hooks.js';
import { useSession } from '../session.js';

const STATUSES = ['open', 'acknowledged', 'resolved'] as const;
type Status = (typeof STATUSES)[number];

export function ConflictsPage({ route }: { route: Route }) {
  const { api, me } = useSession();
  const [status, setStatus] = useState<Status>((route.params.get('status') as Status | null) ?? 'open');
  const [open, setOpen] = useState<string | undefined>(route.params.get('id') ?? undefined);
  const [failure, setFailure] = useState<string | undefined>();
  const pager = usePager();
  const list = useLoad(
    () => api.get<Page<Conflict>>(`/conflicts${query({ status, limit: 50, cursor: pager.cursor })}`),
    [status, pager.cursor],
    { live: ['conflict.'] },
  );
  const act = async (conflict: Conflict, action: 'acknowledge' | 'resolve') => {
    setFailure(undefined);
    try {
      await api.post(`/conflicts/${conflict.id}/${action}`, {});
      list.reload();
    } catch (error) {
      setFailure(error instanceof Error ? error.message : String(error));
    }
  };
  return (
    <Section
      title="Conflicts"
      actions={
        <div class="tabs" role="tablist" aria-label="status">
          {STATUSES.map((s) => (
            <button
              key={s}
              type="button"
              role="tab"
              aria-selected={status === s}
              onClick={() => {
                setStatus(s);
                pager.reset();
              }}
            >
              {s}
            </button>
          ))}
        </div>
      }
    >
      <Loading loading={list.loading && list.data === undefined} />
      <ErrorNote error={list.error ?? failure} />
      <div class="table-wrap">
        <table class="conflicts">
          <thead>
            <tr>
              <th scope="col">kind</th>
              <th scope="col">IP</th>
              <th scope="col">MACs</th>
              <th scope="col">VLAN</th>
              <th scope="col">first seen</th>
              <th scope="col">last seen</th>
              <th scope="col">status</th>
              <th scope="col">
                <span class="sr-only">actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data?.items.map((c) => (
              <Fragment key={c.id}>
                <tr class={`kind-${c.kind}`} data-conflict={c.id} data-ip={c.ip}>
                  <td>
                    <button
                      type="button"
                      class="link"
                      aria-expanded={open === c.id}
                      onClick={() => setOpen(open === c.id ? undefined : c.id)}
                    >
                      {c.kind}
                    </button>
                  </td>
                  <td>{c.ip}</td>
                  <td class="mono">{c.macs.join(', ')}</td>
                  <td>{c.vlan}</td>
                  <td>
                    <Time at={c.firstSeen} />
                  </td>
                  <td>
                    <Time at={c.lastSeen} />
                  </td>
                  <td>
                    {c.status}
                    {c.acknowledgedBy && <div class="muted small">by {c.acknowledgedBy}</div>}
                    {c.resolvedBy && <div class="muted small">by {c.resolvedBy}</div>}
                  </td>
                  <td class="actions">
                    {me.role === 'admin' && c.status === 'open' && (
                      <button type="button" onClick={() => act(c, 'acknowledge')}>
                        Acknowledge
                      </button>
                    )}
                    {me.role === 'admin' && c.status !== 'resolved' && (
                      <button type="button" class="danger" onClick={() => act(c, 'resolve')}>
                        Resolve
                      </button>
                    )}
                  </td>
                </tr>
                {open === c.id && (
                  <tr class="history-row">
                    <td colSpan={8}>
                      <ol class="evidence" aria-label="evidence">
                        {c.evidence.map((e, i) => (
                          <li key={i}>
                            <Time at={e.at} /> · {e.agent} {e.interface} (VLAN {e.vlan}) saw{' '}
                            <span class="mono">{e.mac}</span> in {e.source} {e.kind}
                          </li>
                        ))}
                      </ol>
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      </div>
      {list.data?.items.length === 0 && <p class="muted">No {status} conflicts.</p>}
      <PagerControls pager={pager} nextCursor={list.data?.nextCursor} shown={list.data?.items.length ?? 0} />
    </Section>
  );
}
