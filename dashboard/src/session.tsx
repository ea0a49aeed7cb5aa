/**
 * Who is signed in: the token (kept in sessionStorage, so it goes with the tab, never in a URL),
 * what GET /me says of it, and the live event stream the pages follow.
 */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api, Me } from './api.js';
import type { LiveEvents } from './live.js';

export interface Session {
  api: Api;
  me: Me;
  live: LiveEvents;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSession outside a signed-in page');
  return session;
}

export const TOKEN_KEY = 'ipwarden.token';
