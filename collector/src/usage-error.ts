/** Bad usage or configuration: exit code 2 with one line on stderr (DESIGN.md, "Command-line contract"). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
