/**
 * The `ipwarden-agent` command. Exit codes (DESIGN.md): 0 success, 2 bad usage or input
 * (one line on stderr), 1 anything else.
 */
import { parseArgs } from 'node:util';
import { loadOptions, optionsHelp, parseArgsOptions } from '@ipwarden/options';
import { HostError, UsageError } from './errors.js';
import { formatReadStats, type OutputFormat, readCommand } from './read-command.js';

// `run`'s modules (configuration, uplink, live capture) are imported when `run` is: the
// protocol's schemas are compiled at import, a fifth of a second `read` need not wait.

/** One entry per option of `run`, from the configuration schema, so the two never disagree. */
async function runOptionsUsage(): Promise<string> {
  const { AGENT_RUN_OPTIONS } = await import('./config.js');
  return optionsHelp(AGENT_RUN_OPTIONS);
}

const usage = async () => `usage: ipwarden-agent <command> [options]

commands:
  run [options]
      capture on the watched interfaces (or read --pcap FILE) and stream the sightings to the
      collector; stops on SIGTERM or SIGINT
  read FILE [--all] [--format ndjson|table] [--refresh SECONDS]
      print the sightings a pcap/pcapng capture holds, one JSON object per line
      (--all: every observation of every frame, without de-duplication)

run options (flags over environment variables over the configuration file; every one in
docs/CONFIGURATION.md):
${await runOptionsUsage()}`;

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

async function runRun(args: string[]): Promise<number> {
  const { AGENT_CONFIG_FILE, AGENT_RUN_OPTIONS, loadConfig } = await import('./config.js');
  const { values } = parseArgs({
    args,
    options: { ...parseArgsOptions(AGENT_RUN_OPTIONS), help: { type: 'boolean', short: 'h' } },
    allowPositionals: false,
  });
  if (values.help === true) {
    process.stdout.write(`${await usage()}\n`);
    return 0;
  }
  const flags = values as Record<string, string | string[] | undefined>;
  const { configFile } = loadOptions(AGENT_CONFIG_FILE, { flags, env: process.env });
  const config = loadConfig({ flags, env: process.env, file: configFile });
  const { runAgent } = await import('./run-command.js');
  return runAgent(config);
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
  if (command === 'run') {
    const code = await dispatch(command, args);
    // pcap 3.1.0 frees a capture's handle only when the next frame arrives: on a quiet
    // interface the process would not end by itself.
    process.exit(code);
  }
  return dispatch(command, args);
}

async function dispatch(command: string | undefined, args: string[]): Promise<number> {
  try {
    switch (command) {
      case 'run':
        return await runRun(args);
      case 'read':
        return runRead(args);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${await usage()}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`ipwarden-agent: ${(error as Error).message}\n`);
      return 2;
    }
    if (error instanceof HostError) {
      process.stderr.write(`ipwarden-agent: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`ipwarden-agent: ${(error as Error).stack ?? error}\n`);
    return 1;
  }
}
