/**
 * A small promise-based agent for gateway tests: a real `ws` client that keeps every message the
 * collector sends, in order, and the close code it ends with. It sends whatever it is told to,
 * well-formed or not.
 */
import type { Ack, CollectorMessage, ErrorMessage, Hello, SightingItem, Welcome } from '@ipwarden/protocol';
import WebSocket from 'ws';
import { hello } from './sightings.js';

/** How long a test waits for a message or a close before failing. */
const WAIT_MS = 5_000;

export interface Refusal {
  status: number;
  body: string;
}

/** Opens a WebSocket that the collector refuses, and says how: the HTTP status of the upgrade. */
export function refusedUpgrade(url: string, token?: string): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    ws.on('error', (error) => reject(error));
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('the collector accepted the WebSocket'));
    });
    ws.on('unexpected-response', (request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body });
        request.destroy();
      });
    });
  });
}

export interface Closed {
  code: number;
  reason: string;
}

export class AgentSocket {
  /** Every message received, in order. */
  readonly received: CollectorMessage[] = [];
  /** Settles when the socket has closed, with the code the collector gave. */
  readonly closed: Promise<Closed>;
  private read = 0;
  private wake: (() => void) | undefined;
  private isClosed = false;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.received.push(JSON.parse(data.toString()) as CollectorMessage);
      this.wake?.();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.isClosed = true;
        this.wake?.();
        resolve({ code, reason: reason.toString() });
      });
    });
    // An error always ends in 'close', which is what tests look at.
    ws.on('error', () => {});
  }

  /** Connects with `token` (an agent's own, or the enrollment secret). */
  static connect(url: string, token: string): Promise<AgentSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
      const socket = new AgentSocket(ws);
      ws.once('open', () => resolve(socket));
      ws.once('unexpected-response', (request, response) => {
        request.destroy();
        reject(new Error(`upgrade refused: HTTP ${response.statusCode}`));
      });
      socket.closed.then(({ code }) => reject(new Error(`closed before it opened (${code})`)));
    });
  }

  /** Connects and says hello; resolves with the welcome. */
  static async welcomed(url: string, token: string, overrides: Partial<Hello> = {}): Promise<AgentSocket> {
    const socket = await AgentSocket.connect(url, token);
    await socket.hello(overrides);
    return socket;
  }

  /** The next message not read yet; rejects when the socket closes first or nothing comes. */
  async next(): Promise<CollectorMessage> {
    const until = Date.now() + WAIT_MS;
    while (this.read >= this.received.length) {
      if (this.isClosed) throw new Error(`the socket closed; received ${JSON.stringify(this.received)}`);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no message within ${WAIT_MS} ms; received ${JSON.stringify(this.received)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return this.received[this.read++]!;
  }

  async nextOf<T extends CollectorMessage['type']>(type: T): Promise<Extract<CollectorMessage, { type: T }>> {
    let message = await this.next();
    // Watch lists come whenever the addresses under conflict change; only tests that ask for them read them.
    while (type !== 'config' && message.type === 'config' && Object.keys(message.config).join() === 'watch') {
      message = await this.next();
    }
    if (message.type !== type) throw new Error(`expected ${type}, received ${JSON.stringify(message)}`);
    return message as Extract<CollectorMessage, { type: T }>;
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  async hello(overrides: Partial<Hello> = {}): Promise<Welcome> {
    this.send(hello(overrides));
    return this.nextOf('welcome');
  }

  /** Sends a batch and waits for its ack. */
  async sightings(seq: number, items: SightingItem[]): Promise<Ack> {
    this.send({ type: 'sightings', seq, items });
    return this.nextOf('ack');
  }

  /** The error the collector sent before it closed, and the close code. */
  async failure(): Promise<{ error: ErrorMessage; close: Closed }> {
    const error = await this.nextOf('error');
    const close = await within(this.closed, 'the close');
    return { error, close };
  }

  async close(): Promise<Closed> {
    if (!this.isClosed) this.ws.close(1000, 'done');
    return within(this.closed, 'the close');
  }
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not come within ${WAIT_MS} ms`)), WAIT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}
