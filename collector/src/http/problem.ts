/**
 * The one mapper from errors to answers: RFC 9457 problem+json with the catalogue's stable
 * code. Domain errors (ApiError) keep their status; fastify's own (bad JSON, body too large,
 * wrong media type) are put in the catalogue's terms; anything else is a 500, logged with its
 * cause — and a bug to fix, since no input may produce one.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { databaseUnavailable } from '../db/database.js';
import { ApiError, ErrorCode, type ErrorKind, type FieldError } from '../errors.js';

export const PROBLEM_TYPE = 'application/problem+json';

export function sendProblem(
  reply: FastifyReply,
  kind: ErrorKind,
  detail: string,
  errors?: FieldError[],
  instance?: string,
): FastifyReply {
  return reply
    .code(kind.status)
    .type(PROBLEM_TYPE)
    .send({
      type: `https://ipwarden.dev/problems/${kind.code}`,
      title: kind.title,
      status: kind.status,
      detail,
      code: kind.code,
      ...(instance !== undefined && { instance }),
      ...(errors !== undefined && { errors }),
    });
}

/** Fastify's own errors, by their code, in the catalogue's terms. */
const FASTIFY_ERRORS: Record<string, ErrorKind> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ErrorCode.MALFORMED_JSON,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCode.MALFORMED_JSON,
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCode.BODY_TOO_LARGE,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ErrorCode.VALIDATION_FAILED,
  FST_ERR_CTP_INVALID_TYPE: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
};

export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ApiError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof ApiError) {
      request.log.debug({ code: error.kind.code }, error.detail);
      return sendProblem(reply, error.kind, error.detail, error.errors, request.url);
    }
    const known = error.code === undefined ? undefined : FASTIFY_ERRORS[error.code];
    if (known !== undefined) return sendProblem(reply, known, error.message, undefined, request.url);
    if (databaseUnavailable(error)) {
      request.log.error({ err: error }, 'database unavailable');
      return sendProblem(
        reply,
        ErrorCode.UNAVAILABLE,
        'the database cannot be reached; try again',
        undefined,
        request.url,
      );
    }
    request.log.error({ err: error }, 'request failed');
    return sendProblem(
      reply,
      ErrorCode.INTERNAL,
      'the collector failed; the cause is in its log',
      undefined,
      request.url,
    );
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, ErrorCode.NOT_FOUND, `no route ${request.method} ${request.url.split('?')[0]}`),
  );
}
