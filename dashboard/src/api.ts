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

// What the pages read, as the API shows it (API.md).
export interface Subnet {
  id: string;
  cidr: string;
  vlan: number;
  name: string | null;
  gateway: string | null;
  dnsServers: string[];
  managed: boolean;
}

export interface Utilization {
  total: number | string;
  allocated: { total: number; byKind: Record<string, number> };
  dynamic: number | string;
  reserved: number | string;
  observedUnallocated: number;
  free: number | string;
}

export interface MapBlock {
  first: string;
  allocated: number;
  seenUnallocated: number;
  seenBefore: number;
  conflicts: number;
  dynamic: number;
  reserved: number;
}

export interface AddressMap {
  cidr: string;
  family: 4 | 6;
  first: string;
  observationWindowSeconds: number;
  states: string[];
  cells?: string;
  blockSize?: string;
  blocks?: MapBlock[];
}

export interface DhcpState {
  state: 'applied' | 'pending' | 'none';
  version: number | null;
  agents: { id: string; state: string }[];
}

export interface Address {
  ip: string;
  subnet: string;
  cidr: string;
  kind: string;
  mac: string | null;
  hostname: string | null;
  owner: string;
  comment?: string | null;
  createdAt: string;
  lastSeen?: string | null;
  seenMac?: string | null;
  dhcp?: DhcpState;
}

export interface Discovery {
  ip: string;
  mac: string;
  vendor: string | null;
  hostnames: string[];
  vlan: number;
  agent: string;
  interface: string;
  sources: string[];
  firstSeen: string;
  lastSeen: string;
  address?: { ip: string; kind: string; mac: string | null; hostname: string | null };
}

export interface HistoryEntry {
  at: string;
  event: string;
  source: string;
  ip: string;
  mac: string;
  previousMac?: string;
  hostname?: string;
  vlan: number;
  agent: string;
  interface: string;
}

export interface Evidence {
  agent: string;
  interface: string;
  vlan: number;
  source: string;
  kind: string;
  mac: string;
  at: string;
}

export interface Conflict {
  id: string;
  kind: string;
  ip: string;
  macs: string[];
  vlan: number;
  subnet?: string | null;
  status: 'open' | 'acknowledged' | 'resolved';
  firstSeen: string;
  lastSeen: string;
  acknowledgedBy?: string | null;
  resolvedAt?: string | null;
  resolvedBy?: string | null;
  evidence: Evidence[];
}

export interface Agent {
  id: string;
  name: string;
  hostname: string | null;
  version: string | null;
  connected: boolean;
  revoked: boolean;
  lastSeen: string | null;
  interfaces: { name: string; mac?: string; vlans: number[]; addresses: string[] }[];
  dhcp: {
    backend: string;
    appliedVersion: number | null;
    wantedVersion: number | null;
    inStep: boolean;
    failure: { version: number; error: string; at: string } | null;
    lastDrift: { version: number; detail: string; at: string } | null;
  };
  stats: {
    at: string;
    captured: number;
    kernelDrops: number;
    decodeErrors: number;
    outboxDepth: number;
    outboxDropped: number;
  } | null;
}

export interface OwnerHolding {
  owner: string;
  role: Role;
  total: number;
  byKind: Record<string, number>;
}
