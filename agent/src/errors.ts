/** Errors the agent's commands report to the person running them (exit code 2, one line). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
