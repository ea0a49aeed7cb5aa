/**
 * What agents and users may be called: letters, digits, `.`, `_` and `-`, at most 64, starting
 * with a letter or digit, so that a name stands in a URL path, a shell word and a log line as it
 * is. One rule for the API (POST /agents, POST /users) and for agents that enroll themselves
 * over the gateway.
 */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
