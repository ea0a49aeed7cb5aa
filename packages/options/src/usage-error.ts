/**
 * Bad usage or configuration: exit code 2 with one line on stderr (DESIGN.md, "Command-line
 * contract"). One class for the three programs, so that what the option loader throws is what
 * each program's command catches.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
