/**
 * A webhook receiver for tests: a real `node:http` server on 127.0.0.1 that keeps every request
 * it got, raw body and headers, and answers as the test says — a status, or never (it holds the
 * request open). It can be stopped and started again on the same port, as a receiver that goes
 * down and comes back.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered: a status, or "hang". */
  answered: number | 'hang';
}

/** How a receiver answers the `n`th request (0-based): a status, or "hang" for never. */
export type Answer = (n: number, request: { headers: IncomingHttpHeaders; body: string }) => number | 'hang';

export class WebhookReceiver {
  readonly received: Received[] = [];
  answer: Answer = () => 204;
  /** How long each answer takes. */
  delayMs = 0;
  private server: Server | undefined;
  private port = 0;
  private waiters: (() => void)[] = [];

  static async start(answer?: Answer): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    if (answer !== undefined) receiver.answer = answer;
    await receiver.listen();
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** The bodies of the requests answered 2xx, parsed. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read bodies freely; each asserts the shape it expects.
  delivered(): any[] {
    return this.received
      .filter((r) => typeof r.answered === 'number' && r.answered >= 200 && r.answered < 300)
      .map((r) => JSON.parse(r.body));
  }

  /** Listens (again) — on the port it had, after a stop. */
  async listen(): Promise<void> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const answered = this.answer(this.received.length, { headers: request.headers, body });
        this.received.push({ headers: request.headers, body, answered });
        const reply = () => {
          if (answered !== 'hang') response.writeHead(answered).end();
          for (const wake of this.waiters.splice(0)) wake();
        };
        if (this.delayMs > 0) setTimeout(reply, this.delayMs);
        else reply();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and drops every connection, hanging requests too. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Until `check` holds of what was received, or `timeoutMs`. */
  async until(check: (received: Received[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this.received)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`receiver: condition still false after ${timeoutMs} ms; got ${this.received.length} requests`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** The body's `X-Ipwarden-Signature` checked with the plain secret: `sha256=<hex>`. */
export function verifyIpwardenSignature(secret: string, received: Received): boolean {
  const expected = `sha256=${createHmac('sha256', secret).update(received.body).digest('hex')}`;
  const got = String(received.headers['x-ipwarden-signature'] ?? '');
  return got.length === expected.length && timingSafeEqual(Buffer.from(got), Buffer.from(expected));
}

/**
 * Standard Webhooks verification as the spec's reference library (standard-webhooks/libraries,
 * javascript/src/index.ts) does it: the key is the base64 after `whsec_`; the timestamp within
 * 5 minutes of now; `webhook-signature` a space-separated list of `v1,<base64>` of which one
 * must equal HMAC-SHA256(key, "id.timestamp.body"), compared in constant time. Throws as the
 * library does; returns the parsed payload.
 */
export function verifyStandardWebhook(
  whsecSecret: string,
  received: Received,
  nowSeconds = Date.now() / 1000,
): unknown {
  const PREFIX = 'whsec_';
  const key = Buffer.from(whsecSecret.startsWith(PREFIX) ? whsecSecret.slice(PREFIX.length) : whsecSecret, 'base64');
  const msgId = received.headers['webhook-id'];
  const msgTimestamp = received.headers['webhook-timestamp'];
  const msgSignature = received.headers['webhook-signature'];
  if (typeof msgId !== 'string' || typeof msgTimestamp !== 'string' || typeof msgSignature !== 'string') {
    throw new Error('Missing required headers');
  }
  const timestamp = Number.parseInt(msgTimestamp, 10);
  if (Number.isNaN(timestamp)) throw new Error('Invalid Signature Headers');
  const TOLERANCE = 5 * 60;
  if (nowSeconds - timestamp > TOLERANCE) throw new Error('Message timestamp too old');
  if (timestamp > nowSeconds + TOLERANCE) throw new Error('Message timestamp too new');
  const expected = createHmac('sha256', key).update(`${msgId}.${timestamp}.${received.body}`).digest('base64');
  for (const versioned of msgSignature.split(' ')) {
    const [version, signature] = versioned.split(',');
    if (version !== 'v1' || signature === undefined) continue;
    const a = Buffer.from(signature);
    const b = Buffer.from(expected);
    if (a.length === b.length && timingSafeEqual(a, b)) return JSON.parse(received.body);
  }
  throw new Error('No matching signature found');
}
