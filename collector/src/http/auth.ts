/**
 * API authentication (API.md, "Auth"): a bearer token names a user and its role; each route
 * says which roles may call it. 401 without a valid token, 403 when the role does not allow.
 */
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { bearerToken } from '../auth/tokens.js';
import type { Principal, Principals } from '../auth/users.js';
import type { Role } from '../db/schema/index.js';
import { ApiError, ErrorCode } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

export const READ: readonly Role[] = ['admin', 'user', 'viewer'];
/** Reservations and claims: their own, for users; everything, for admins. */
export const WRITE: readonly Role[] = ['admin', 'user'];
export const ADMIN: readonly Role[] = ['admin'];

/**
 * For a route's `onRequest`: the token is checked before the body is read or validated, so a
 * caller without the right role gets its 401 or 403, not a schema error, and costs no parsing.
 */
export function requireRole(principals: Principals, roles: readonly Role[]): onRequestAsyncHookHandler {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const token = bearerToken(request.headers.authorization);
    const principal = token === undefined ? undefined : await principals.of(token);
    if (principal === undefined) {
      throw new ApiError(ErrorCode.UNAUTHORIZED, 'send Authorization: Bearer <token> with a valid token');
    }
    if (!roles.includes(principal.role)) {
      throw new ApiError(ErrorCode.FORBIDDEN, `the ${principal.role} role cannot do this`);
    }
    request.principal = principal;
  };
}
