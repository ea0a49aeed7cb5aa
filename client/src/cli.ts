/**
 * The `ipwarden` command: the IPAM API for people. Exit codes (DESIGN.md): 0 success; 2 bad
 * usage or input, a 4xx answer of the API included (`ipwarden: <code>: <detail>` and the field
 * errors); 1 anything else (the server unreachable or failing), with a line naming the server.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { ApiClient, type Page, parseJson } from './api-client.js';
import { type Call, parseCommandLine, usage } from './commands.js';
import { defaultConfigFile, type LoadedConfig, loadConfig } from './config.js';
import { ApiProblem, ServerError, UsageError } from './errors.js';
import { escapeText } from './output.js';

const say = (line: string) => process.stderr.write(`ipwarden: ${line}\n`);

/** A file's text (`-`: standard input); one that cannot be read is the person's mistake. */
function readText(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
}

function readJson(file: string): unknown {
  const text = readText(file);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
}

/** The call's body, with what it reads from files; a file's last line break is not a secret's. */
function bodyOf(call: Call): unknown {
  const body = call.bodyFile === undefined ? call.body : readJson(call.bodyFile);
  if (call.textFiles === undefined) return body;
  const read = Object.entries(call.textFiles).map(([field, file]) => [field, readText(file).replace(/\r?\n$/, '')]);
  return { ...(body as object), ...Object.fromEntries(read) };
}

async function send(client: ApiClient, call: Call): Promise<unknown> {
  const request = { ...call, body: bodyOf(call) };
  return call.all ? client.all(request) : client.send(request);
}

/** The problem's line, then the field errors its detail does not already say. */
function reportProblem(problem: ApiProblem, loaded: LoadedConfig): void {
  const hint =
    problem.status === 401 && loaded.config.token === undefined
      ? ` (no token was given: use --token TOKEN, IPWARDEN_TOKEN, or "token" in ${loaded.file})`
      : '';
  say(`${escapeText(`${problem.code}: ${problem.detail}`)}${hint}`);
  for (const { field, message } of problem.errors) {
    const line = `${field}: ${message}`;
    if (!problem.detail.includes(line)) process.stderr.write(`  ${escapeText(line)}\n`);
  }
}

/** Waits before following the stream again: doubling from 1 s to 30 s, as the dashboard does. */
const RETRY_MS = { first: 1_000, most: 30_000 };

/**
 * Prints the stream's events as they come, until interrupted. A stream the server ends, or one
 * that cannot be reached, is followed again from the last event printed (Last-Event-ID) — or,
 * before any, from where the collector said the stream began: nothing is missed or printed twice
 * across a collector's restart. A 4xx answer (a bad token, a type the API does not know) is
 * final.
 */
async function follow(client: ApiClient, call: Call, json: boolean): Promise<number> {
  let lastEventId = call.follow?.lastEventId;
  const resumeFrom = (id: string) => {
    lastEventId = id;
  };
  let retryMs = RETRY_MS.first;
  for (;;) {
    try {
      for await (const event of client.follow(call, lastEventId, resumeFrom)) {
        const answer = parseJson(event.data);
        if (answer === undefined) {
          say(`${client.server} sent an event that is not JSON (id ${escapeText(event.lastEventId)})`);
          return 1;
        }
        process.stdout.write(`${json ? JSON.stringify(answer) : call.view(answer)}\n`);
        retryMs = RETRY_MS.first;
      }
      say(`${client.server} ended the stream; following it again in ${retryMs / 1000} s`);
    } catch (error) {
      if (!(error instanceof ServerError)) throw error;
      say(`${error.message}; trying again in ${retryMs / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, retryMs));
    retryMs = Math.min(retryMs * 2, RETRY_MS.most);
  }
}

export async function main(argv: string[]): Promise<number> {
  // A closed pipe (`| head`) ends the output, not the program with a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  let loaded: LoadedConfig | undefined;
  try {
    const { help, json, flags, call } = parseCommandLine(argv);
    if (help || call === undefined) {
      (help ? process.stdout : process.stderr).write(`${usage(defaultConfigFile(process.env, homedir()))}\n`);
      return help ? 0 : 2;
    }
    loaded = loadConfig({ flags, env: process.env, home: homedir() });
    for (const warning of loaded.warnings) say(`warning: ${warning}`);
    const { server, token, timeoutSeconds } = loaded.config;
    const client = new ApiClient(server, token, timeoutSeconds * 1000);
    if (call.follow !== undefined) return await follow(client, call, json);
    const answer = await send(client, call);
    if (json) {
      if (answer !== undefined) process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(`${call.view(answer)}\n`);
    const next = (answer as Partial<Page> | undefined)?.nextCursor;
    if (!call.all && typeof next === 'string') say(`more: --cursor ${escapeText(next)}`);
    return 0;
  } catch (error) {
    if (error instanceof ApiProblem) {
      reportProblem(error, loaded!);
      return 2;
    }
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      say((error as Error).message);
      return 2;
    }
    if (error instanceof ServerError) {
      say(error.message);
      return 1;
    }
    say(`${(error as Error).stack ?? error}`);
    return 1;
  }
}
