/**
 * What the agent shows the collector in the WebSocket upgrade (`Authorization: Bearer ...`):
 * a token given on the command line or in the environment; else the agent's own token, stored
 * in the state directory when the collector enrolled it; else the enrollment secret, with which
 * the collector enrolls the agent and answers with its own token (DESIGN.md, "The wire protocol").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';

export type CredentialSource = 'token' | 'stored token' | 'secret';

export interface Credential {
  bearer: string;
  /** Where the bearer came from, for log lines: the value itself is never logged. */
  source: CredentialSource;
}

/** What the uplink needs of credentials; {@link TokenStore} is the agent's. */
export interface Credentials {
  /** The bearer for the next connection, or undefined when the agent has none. */
  current(): Credential | undefined;
  /** The collector enrolled the agent and gave it this token. */
  save(token: string): void;
  /** The collector answered 401 to `credential`; returns what the next connection tries instead, if anything. */
  refused(credential: Credential): Credential | undefined;
}

export interface TokenStoreOptions {
  /** The state directory; the token lives in its `token` file. */
  dir: string;
  /** --token / IPWARDEN_AGENT_TOKEN: used as given, never replaced. */
  token?: string | undefined;
  /** --secret / IPWARDEN_AGENT_SECRET. */
  secret?: string | undefined;
}

export class TokenStore implements Credentials {
  readonly path: string;
  private readonly token: string | undefined;
  private readonly secret: string | undefined;
  private stored: string | undefined;

  constructor(options: TokenStoreOptions) {
    this.path = join(options.dir, 'token');
    this.token = options.token;
    this.secret = options.secret;
    try {
      this.stored = readFileSync(this.path, 'utf8').trim() || undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  current(): Credential | undefined {
    if (this.token !== undefined) return { bearer: this.token, source: 'token' };
    if (this.stored !== undefined) return { bearer: this.stored, source: 'stored token' };
    if (this.secret !== undefined) return { bearer: this.secret, source: 'secret' };
    return undefined;
  }

  /** Stored with mode 0600 and atomically: a torn token file would lock the agent out. */
  save(token: string): void {
    if (token === this.stored) return;
    writeFileAtomic(this.path, `${token}\n`);
    this.stored = token;
  }

  /**
   * A refused stored token gives way to the secret, when there is one: the collector lost the
   * agent (a new database), and enrolling again with the secret is what the operator would do.
   * Anyone holding the secret may enroll under any name anyway, so this opens nothing. A token
   * given explicitly, or the secret, is tried again as it is.
   */
  refused(credential: Credential): Credential | undefined {
    if (credential.source === 'stored token' && credential.bearer === this.stored && this.secret !== undefined) {
      this.stored = undefined;
    }
    return this.current();
  }
}
