/**
 * The collector's API as the dashboard calls it: a bearer token on every request, problems
 * (RFC 9457) turned into errors that carry their detail and field messages to the page. The
 * API decides what a role may do; the page only hides what it would refuse.
 */

export type Role = 'admin' | 'user' | 'viewer';

export interface Me {
  id: string;
  name: string;
  role: Role;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** An API answer that was not a success, with what the problem document said. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly errors: { field: string; message: string }[] = [],
  ) {
    super(errors.length > 0 ? `${detail}: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}` : detail);
  }
}

export const API = '/api/v1';

export class Api {
  constructor(readonly token: string) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${API}${path}`, {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    const json = text === '' ? undefined : JSON.parse(text);
    if (!response.ok) {
      throw new ApiProblem(
        response.status,
        json?.code ?? 'error',
        json?.detail ?? json?.title ?? response.statusText,
        json?.errors,
      );
    }
    return json as T;
  }

  get = <T>(path: string) => this.request<T>('GET', path);
  post = <T>(path: string, body: unknown = {}) => this.request<T>('POST', path, body);
  delete = <T>(path: string) => this.request<T>('DELETE', path);
}

/** A query string of the parameters that are set. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const set = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '');
  return set.length === 0 ? '' : `?${new URLSearchParams(set.map(([k, v]) => [k, String(v)])).toString()}`;
}

export const enc = encodeURIComponent;

// What the pages read: the collector's own types of what its API answers, imported as types
// only (erased from the bundle), so the page and the API cannot drift apart unnoticed.
export type {
  Address,
  AddressMap,
  AgentView as Agent,
  Conflict,
  DhcpOutcome as DhcpState,
  Discovery,
  HistoryEntry,
  MapBlock,
  OwnerHolding,
  Subnet,
  Utilization,
} from '@ipwarden/collector';
