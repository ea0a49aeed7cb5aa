/**
 * The `ipwarden-agent` command. Exit codes (DESIGN.md): 0 success, 2 bad usage or input
 * (one line on stderr), 1 anything else.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';
import { formatReadStats, type OutputFormat, readCommand } from './read-command.js';

const USAGE = `usage: ipwarden-agent <command> [options]

commands:
  read FILE [--all] [--format ndjson|table] [--refresh SECONDS]
      print the sightings a pcap/pcapng capture holds, one JSON object per line
      (--all: every observation of every frame, without de-duplication)`;

function parseRead(args: string[]): { file: string; format: OutputFormat; all: boolean; refreshMs?: number } {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      all: { type: 'boolean', default: false },
      format: { type: 'string' },
      refresh: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('read takes exactly one capture file');
  const format = values.format ?? (process.stdout.isTTY ? 'table' : 'ndjson');
  if (format !== 'ndjson' && format !== 'table')
    throw new UsageError(`--format must be ndjson or table, not "${format}"`);
  let refreshMs: number | undefined;
  if (values.refresh !== undefined) {
    const seconds = Number(values.refresh);
    if (!Number.isFinite(seconds) || seconds < 0)
      throw new UsageError(`--refresh must be a number of seconds, not "${values.refresh}"`);
    refreshMs = seconds * 1000;
  }
  return { file: positionals[0]!, format, all: values.all, refreshMs };
}

function runRead(args: string[]): number {
  const options = parseRead(args);
  const stats = readCommand(options, (text) => process.stdout.write(text));
  process.stderr.write(`${formatReadStats(stats)}\n`);
  if (stats.error !== undefined) {
    process.stderr.write(`ipwarden-agent: ${options.file}: ${stats.error}\n`);
    return 2;
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  // A closed pipe (`| head`) ends the output, not the program with a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'read':
        return runRead(args);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`ipwarden-agent: ${(error as Error).message}\n`);
      return 2;
    }
    process.stderr.write(`ipwarden-agent: ${(error as Error).stack ?? error}\n`);
    return 1;
  }
}
