/**
 * Agents: connected or not, last seen, interfaces, what capture dropped, how deep the outbox
 * is, and whether the DHCP map the agent applied is the one it should serve.
 */
import type { Agent, Page } from '../api.js';
import { ErrorNote, Loading, Section, Time } from '../components.js';
import { count } from '../format.js';
import { useLoad } from '../hooks.js';
import { useSession } from '../session.js';

export function AgentsPage() {
  const { api } = useSession();
  // Stats arrive every few seconds with no event of their own: refresh on a timer too.
  const list = useLoad(() => api.get<Page<Agent>>('/agents?limit=1000'), [], {
    live: ['agent.', 'dhcp.'],
    everyMs: 10_000,
  });
  return (
    <Section title="Agents" actions={<Loading loading={list.loading && list.data === undefined} />}>
      <ErrorNote error={list.error} />
      {list.data?.items.length === 0 && <p class="muted">No agent has enrolled yet.</p>}
      <div class="cards">
        {list.data?.items.map((a) => (
          <article key={a.id} class="card" data-agent={a.name} aria-label={`agent ${a.name}`}>
            <header>
              <h3>{a.name}</h3>
              <span class={`badge ${a.connected ? 'ok' : 'bad'}`}>
                {a.revoked ? 'revoked' : a.connected ? 'connected' : 'disconnected'}
              </span>
            </header>
            <dl class="facts">
              <dt>host</dt>
              <dd>
                {a.hostname ?? '—'} {a.version && <span class="muted small">v{a.version}</span>}
              </dd>
              <dt>last seen</dt>
              <dd>
                <Time at={a.lastSeen} />
              </dd>
              <dt>interfaces</dt>
              <dd>
                {a.interfaces.map((i) => (
                  <div key={i.name}>
                    <strong>{i.name}</strong> {i.addresses.join(', ')}
                  </div>
                ))}
              </dd>
              <dt>captured</dt>
              <dd>{a.stats ? count(a.stats.captured) : '—'}</dd>
              <dt>capture drops</dt>
              <dd class={a.stats && a.stats.kernelDrops > 0 ? 'warn' : ''}>
                {a.stats
                  ? `${count(a.stats.kernelDrops)} by the kernel, ${count(a.stats.decodeErrors)} undecodable`
                  : '—'}
              </dd>
              <dt>outbox</dt>
              <dd class={a.stats && a.stats.outboxDepth > 0 ? 'warn' : ''}>
                {a.stats ? `${count(a.stats.outboxDepth)} waiting, ${count(a.stats.outboxDropped)} dropped` : '—'}
              </dd>
              <dt>DHCP</dt>
              <dd>
                {a.dhcp.backend === 'none' ? (
                  <span class="muted">no DHCP server</span>
                ) : (
                  <>
                    {a.dhcp.backend}: applied v{a.dhcp.appliedVersion ?? '—'} of v{a.dhcp.wantedVersion ?? '—'}{' '}
                    <span class={`badge ${a.dhcp.inStep ? 'ok' : 'bad'}`}>{a.dhcp.inStep ? 'in step' : 'behind'}</span>
                    {a.dhcp.failure && (
                      <div class="error small">
                        v{a.dhcp.failure.version} failed: {a.dhcp.failure.error}
                      </div>
                    )}
                  </>
                )}
              </dd>
            </dl>
          </article>
        ))}
      </div>
    </Section>
  );
}
