/**
 * The dashboard's frame: sign-in with an API token, the navigation, and a page per hash route
 * (#/subnets, #/discoveries, …), so that the collector serves one index.html for all of them.
 */
import { useEffect, useState } from 'preact/hooks';
import { Api, ApiProblem, type Me } from './api.js';
import { LiveEvents, type LiveState } from './live.js';
import { AddressesPage } from './pages/addresses.js';
import { AgentsPage } from './pages/agents.js';
import { ConflictsPage } from './pages/conflicts.js';
import { DiscoveriesPage } from './pages/discoveries.js';
import { SubnetsPage } from './pages/subnets.js';
import { type Session, SessionContext, TOKEN_KEY } from './session.js';

const PAGES = {
  subnets: ['Subnets', SubnetsPage],
  discoveries: ['Discoveries', DiscoveriesPage],
  conflicts: ['Conflicts', ConflictsPage],
  agents: ['Agents', AgentsPage],
  addresses: ['Addresses', AddressesPage],
} as const;
type PageName = keyof typeof PAGES;

/** The route: `#/discoveries?ip=10.0.0.1` → the page and its parameters. */
export interface Route {
  page: PageName;
  params: URLSearchParams;
}

function routeOf(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#\/?/, '').split('?');
  const page = (path in PAGES ? path : 'subnets') as PageName;
  return { page, params: new URLSearchParams(search) };
}

export const go = (page: PageName, params: Record<string, string> = {}) => {
  const search = new URLSearchParams(params).toString();
  location.hash = `#/${page}${search === '' ? '' : `?${search}`}`;
};

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(true);
  const [route, setRoute] = useState(() => routeOf(location.hash));

  const signIn = async (token: string): Promise<void> => {
    const api = new Api(token);
    const me = await api.get<Me>('/me');
    sessionStorage.setItem(TOKEN_KEY, token);
    setSession({ api, me, live: new LiveEvents(token) });
  };

  useEffect(() => {
    const stored = sessionStorage.getItem(TOKEN_KEY);
    if (stored === null) setChecking(false);
    else
      signIn(stored)
        .catch(() => sessionStorage.removeItem(TOKEN_KEY))
        .finally(() => setChecking(false));
    const follow = () => setRoute(routeOf(location.hash));
    addEventListener('hashchange', follow);
    return () => removeEventListener('hashchange', follow);
  }, []);

  if (checking) return null;
  if (session === null) return <SignIn onSignIn={signIn} />;
  const signOut = () => {
    session.live.close();
    sessionStorage.removeItem(TOKEN_KEY);
    setSession(null);
  };
  const Page = PAGES[route.page][1];
  return (
    <SessionContext.Provider value={session}>
      <header class="top">
        <a class="brand" href="#/subnets">
          ipwarden
        </a>
        <nav aria-label="pages">
          {(Object.keys(PAGES) as PageName[]).map((name) => (
            <a key={name} href={`#/${name}`} aria-current={route.page === name ? 'page' : undefined}>
              {PAGES[name][0]}
            </a>
          ))}
        </nav>
        <div class="who">
          <LiveBadge live={session.live} />
          <span title={`signed in as ${session.me.name}`}>
            {session.me.name} <span class="role">{session.me.role}</span>
          </span>
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        {/* A new address (a link followed, the back button) is a fresh page with its parameters. */}
        <Page key={`${route.page}?${route.params}`} route={route} />
      </main>
    </SessionContext.Provider>
  );
}

function LiveBadge({ live }: { live: LiveEvents }) {
  const [state, setState] = useState<LiveState>(live.state);
  useEffect(() => {
    setState(live.state); // it may have changed between the first render and this subscription
    return live.onState(setState);
  }, [live]);
  const words = { connecting: 'connecting…', live: 'live', down: 'reconnecting…' } as const;
  return (
    <span class={`live live-${state}`} role="status" title="updates from GET /events">
      {words[state]}
    </span>
  );
}

function SignIn({ onSignIn }: { onSignIn: (token: string) => Promise<void> }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  return (
    <main class="sign-in">
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            await onSignIn(token.trim());
          } catch (failure) {
            setError(
              failure instanceof ApiProblem && failure.status === 401
                ? 'That token is not valid.'
                : failure instanceof Error
                  ? failure.message
                  : String(failure),
            );
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1>ipwarden</h1>
        <label for="token">API token</label>
        <input
          id="token"
          type="password"
          autocomplete="current-password"
          value={token}
          onInput={(event) => setToken(event.currentTarget.value)}
          required
        />
        <p class="hint">The admin token is printed when the collector first starts; users get theirs from an admin.</p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
      </form>
    </main>
  );
}
