/**
 * Real processes for cross-process tests: started with their output kept, waited on by what
 * they print, stopped by PID (never by name), and all stopped when the test ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export class TestProcess {
  readonly child: ChildProcess;
  /** stdout and stderr, line by line, as they came. */
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private waiters: { pattern: RegExp; resolve: (match: RegExpMatchArray) => void }[] = [];

  constructor(
    readonly label: string,
    command: string,
    args: string[],
    env: Record<string, string | undefined> = {},
  ) {
    this.child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop()!;
        for (const line of parts) this.line(line);
      });
    }
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  get pid(): number {
    return this.child.pid!;
  }

  private line(line: string): void {
    this.lines.push(line);
    this.waiters = this.waiters.filter((waiter) => {
      const match = waiter.pattern.exec(line);
      if (match !== null) waiter.resolve(match);
      return match === null;
    });
  }

  /** The first line (already printed or yet to come) matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    for (const line of this.lines) {
      const match = pattern.exec(line);
      if (match !== null) return Promise.resolve(match);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.label}: no line matching ${pattern} in ${timeoutMs} ms:\n${this.tail()}`)),
        timeoutMs,
      );
      const exited = () => reject(new Error(`${this.label} exited before printing ${pattern}:\n${this.tail()}`));
      void this.exited.then(exited);
      this.waiters.push({
        pattern,
        resolve: (match) => {
          clearTimeout(timer);
          resolve(match);
        },
      });
    });
  }

  tail(lines = 30): string {
    return this.lines.slice(-lines).join('\n');
  }

  /** Sends `signal` to this process (by PID) and waits for it to end. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

const running = new Set<TestProcess>();

/** Stops every process a test started and left running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGKILL')));
}
