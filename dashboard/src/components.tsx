/** Small pieces the pages share. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { DhcpState } from './api.js';
import { ago, when } from './format.js';

export function Time({ at }: { at: string | null | undefined }) {
  if (at === null || at === undefined) return <span class="muted">never</span>;
  return (
    <time dateTime={at} title={when(at)}>
      {ago(at)}
    </time>
  );
}

export function ErrorNote({ error }: { error: string | undefined }) {
  if (error === undefined) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}

export function Loading({ loading }: { loading: boolean }) {
  return loading ? (
    <span class="muted" aria-live="polite">
      loading…
    </span>
  ) : null;
}

/** Keyset paging: the cursors of the pages behind, so Previous goes back exactly. */
export function usePager(): {
  cursor: string | undefined;
  page: number;
  next: (cursor: string) => void;
  previous: () => void;
  reset: () => void;
} {
  const [stack, setStack] = useState<(string | undefined)[]>([undefined]);
  return {
    cursor: stack.at(-1),
    page: stack.length,
    next: (cursor) => setStack((s) => [...s, cursor]),
    previous: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    reset: () => setStack([undefined]),
  };
}

export function PagerControls(props: {
  pager: ReturnType<typeof usePager>;
  nextCursor: string | null | undefined;
  shown: number;
}) {
  const { pager, nextCursor, shown } = props;
  return (
    <div class="pager">
      <button type="button" onClick={pager.previous} disabled={pager.page === 1}>
        ← Previous
      </button>
      <span>
        page {pager.page} · {shown} shown
      </span>
      <button type="button" onClick={() => nextCursor && pager.next(nextCursor)} disabled={!nextCursor}>
        Next →
      </button>
    </div>
  );
}

export function DhcpBadge({ dhcp }: { dhcp: DhcpState | undefined }) {
  if (dhcp === undefined) return null;
  const words = {
    applied: `DHCP: applied${dhcp.version !== null ? ` (map v${dhcp.version})` : ''}`,
    pending: 'DHCP: pending — not every serving agent has applied it yet',
    none: 'DHCP: not in any map',
  } as const;
  return <span class={`badge dhcp-${dhcp.state}`}>{words[dhcp.state]}</span>;
}

export function Section({
  title,
  children,
  actions,
}: {
  title: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <section class="panel" aria-label={title}>
      <div class="panel-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}
