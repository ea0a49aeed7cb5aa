/**
 * The `ipwarden-collector` command. Exit codes (DESIGN.md): 0 success, 2 bad usage or
 * configuration (one line on stderr), 1 anything else.
 */
import { parseArgs } from 'node:util';
import { optionsHelp, parseArgsOptions, UsageError } from '@ipwarden/options';
import { storedAgentSecret } from './auth/tokens.js';
import { COLLECTOR_OPTIONS, loadCollectorConfig } from './config.js';
import { startCollector } from './server.js';

const usage = () => `usage: ipwarden-collector [options]

options (flags over environment variables; every one in docs/CONFIGURATION.md):
${optionsHelp(COLLECTOR_OPTIONS)}`;

export async function main(argv: string[]): Promise<number> {
  let config: ReturnType<typeof loadCollectorConfig>;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        ...parseArgsOptions(COLLECTOR_OPTIONS),
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(`${usage()}\n`);
      return 0;
    }
    config = loadCollectorConfig(values as Record<string, string | undefined>, process.env);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`ipwarden-collector: ${(error as Error).message}\n`);
      return 2;
    }
    throw error;
  }
  const secret = config.agentSecret === undefined ? storedAgentSecret(config.dataDir) : undefined;
  const collector = await startCollector({
    host: config.host,
    port: config.port,
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    adminToken: config.adminToken,
    agentSecret: config.agentSecret ?? secret!.secret,
    tls: config.tlsCert === undefined ? undefined : { certFile: config.tlsCert, keyFile: config.tlsKey! },
    reconcile: config.reconcile,
    ingestStatements: config.ingestStatements,
  });
  const say = (line: string) => process.stderr.write(`ipwarden-collector: ${line}\n`);
  say(
    `listening on ${collector.url} (API ${collector.url}/api/v1, agents ${collector.url.replace(/^http/, 'ws')}/agent/v1)`,
  );
  say(`database: ${collector.database.kind === 'pglite' ? `embedded, in ${config.dataDir}/pglite` : 'PostgreSQL'}`);
  if (collector.newAdminToken !== undefined) {
    say(`admin token (shown once; kept in ${collector.adminTokenFile ?? 'no file'}): ${collector.newAdminToken}`);
  }
  if (secret?.created) say(`agent enrollment secret generated, kept in ${secret.file}`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  say('shutting down');
  await collector.close();
  return 0;
}
