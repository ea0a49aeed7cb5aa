/** Schema pieces shared by the routes. */
import { parseIp, parsePrefix } from '@ipwarden/ipam';
import { Type } from '@sinclair/typebox';
import { MAX_DHCP_WAIT_MS } from '../dhcp/dhcp-wait.js';
import { NAME_PATTERN } from '../names.js';
import { UUID_PATTERN } from '../paging.js';

/**
 * Free text of at most `maxLength` characters, without NUL, which no PostgreSQL text can hold
 * (a NUL was a 500 at the database).
 */
export const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '^[^\\u0000]*$' });

/** Items per page: 100 unless asked, at most 1000. */
export const Limit = Type.Integer({ minimum: 1, maximum: 1000, default: 100 });

/** The query parameters of every list (API.md, "Lists"). */
export const PageQuery = {
  limit: Limit,
  cursor: Type.String({ minLength: 1, maxLength: 512 }),
};

/** Names of agents and users (names.ts). */
export const Name = Type.String({ minLength: 1, maxLength: 64, pattern: NAME_PATTERN });

export const Uuid = Type.String({ pattern: UUID_PATTERN });

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

/** Checks of a cursor's parts before they reach a column of that type (a uuid: paging.ts). */
export const isAddress = (part: unknown) => typeof part === 'string' && parseIp(part) !== undefined;
export const isPrefix = (part: unknown) => typeof part === 'string' && parsePrefix(part).ok;

/** API.md, "DHCP wait": how long a change waits for the agents serving its subnet, in ms (0: not at all). */
export const Wait = Type.Integer({ minimum: 0, maximum: MAX_DHCP_WAIT_MS });
/** The query of a call that waits for the DHCP maps (API.md, "DHCP wait"). */
export const Waiting = Type.Partial(Type.Object({ wait: Wait }), { additionalProperties: false });
