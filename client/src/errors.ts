/**
 * What can go wrong, by exit code (DESIGN.md): 2 for the person's mistake — a bad command line
 * or configuration, or input the API refused with a 4xx — and 1 for anything else.
 */

/** A bad command line or configuration (exit code 2, one line): the option loader's own. */
export { UsageError } from '@ipwarden/options';

export interface FieldError {
  field: string;
  message: string;
}

/** A 4xx answer: an RFC 9457 problem with the API's stable code (exit code 2). */
export class ApiProblem extends Error {
  override readonly name = 'ApiProblem';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: FieldError[],
  ) {
    super(`${code}: ${detail}`);
  }
}

/** The server cannot be reached, fails (5xx) or answers nonsense (exit code 1); names the server. */
export class ServerError extends Error {
  override readonly name = 'ServerError';
}
