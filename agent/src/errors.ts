/** Errors the agent's commands report to the person running them (exit code 2, one line): the option loader's own. */
export { UsageError } from '@ipwarden/options';

/**
 * The host keeps a command from working (missing capabilities, a state directory in use):
 * nothing wrong with the command line, no bug either; exit code 1 with one line that says
 * what to change.
 */
export abstract class HostError extends Error {}
