/**
 * A DHCP server the agent runs itself (its own dnsmasq, its own Kea): started and waited for
 * until it says it serves, stopped on close, and started again by its applier — on the map it
 * served — when it dies, a second later rather than in a tight loop. One that an earlier run of
 * the agent left behind (the agent was killed before it could stop it) would hold the DHCP port:
 * it is found by its pid file and its command line, and stopped first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from '../run-command.js';

/** How long a server the agent starts has to say it serves. */
const START_TIMEOUT_MS = 10_000; // 10 s
const RESTART_DELAY_MS = 1_000; // 1 s

export interface ServerStart {
  binary: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** What the server writes (on stdout or stderr) once it serves. */
  ready: RegExp;
  /** The pid file a run before this one may have left, and what its command line then holds. */
  leftOver: { pidFile: string; marker: string };
}

export class SupervisedServer {
  private child: ChildProcess | undefined;
  private closed = false;
  /** Waiters for a line of the running server's output. */
  private readonly expected = new Set<{ line: string; seen(): void }>();

  /**
   * @param name how messages call the server
   * @param restart starts the server again on the map it served, after it died
   */
  constructor(
    private readonly name: string,
    private readonly log: Logger,
    private readonly restart: () => Promise<void>,
  ) {}

  /** The server's pid while it runs. */
  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  get running(): boolean {
    return this.pid !== undefined;
  }

  async start(how: ServerStart): Promise<void> {
    if (this.child === undefined) await this.stopLeftOver(how.leftOver);
    const child = spawn(how.binary, how.args, { stdio: ['ignore', 'pipe', 'pipe'], env: how.env ?? process.env });
    let said = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name} did not start within 10 s: ${lastLines(said)}`)),
        START_TIMEOUT_MS,
      );
      const hear = (chunk: Buffer) => {
        said += chunk.toString();
        if (how.ready.test(said)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', hear);
      child.stderr!.on('data', hear);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`cannot run ${how.binary}: ${error.message}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code}): ${lastLines(said)}`));
      });
    }).catch((error: unknown) => {
      if (child.exitCode === null) child.kill('SIGTERM');
      throw error;
    });
    child.removeAllListeners('exit');
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.removeAllListeners('data');
      stream.setEncoding('utf8');
      let partial = '';
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!.slice(-4096);
        for (const line of lines) {
          for (const waiter of this.expected) if (line.includes(waiter.line)) waiter.seen();
        }
      });
    }
    child.once('exit', (code, signal) => {
      if (this.closed || this.child !== child) return;
      this.log(`${this.name} exited (${code ?? signal}); starting it again in 1 s`);
      this.child = undefined;
      setTimeout(() => {
        if (this.closed || this.child !== undefined) return;
        this.restart().catch((error: Error) => this.log(`${this.name} could not be started again: ${error.message}`));
      }, RESTART_DELAY_MS).unref();
    });
    this.child = child;
  }

  /**
   * Resolves once the running server writes `line` (as dnsmasq says `read FILE` once it has read
   * one): asked before what makes it say so. Rejects after `timeoutMs`, or if the server exits.
   */
  expect(line: string, timeoutMs: number): Promise<void> {
    const child = this.child;
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        line,
        seen: () => {
          done();
          resolve();
        },
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} did not say "${line}" within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const exited = () => {
        done();
        reject(new Error(`${this.name} exited before it said "${line}"`));
      };
      const done = () => {
        clearTimeout(timer);
        this.expected.delete(waiter);
        child?.off('exit', exited);
      };
      if (child === undefined || child.exitCode !== null) return exited();
      this.expected.add(waiter);
      child.once('exit', exited);
    });
  }

  /** Stops the server (SIGTERM) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }

  private async stopLeftOver({ pidFile, marker }: ServerStart['leftOver']): Promise<void> {
    let pid: number;
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) return;
    } catch {
      return; // no pid file, or no such process
    }
    this.log(`stopping the ${this.name} (pid ${pid}) an earlier run left`);
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 50 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 100));
  }
}

/** The last lines a server wrote: its own words for why it stopped. */
const lastLines = (said: string) => said.trim().split('\n').slice(-3).join(' ');
