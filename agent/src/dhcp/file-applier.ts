/**
 * The `file` backend: the map as JSON, written whole and atomically (atomic-file.ts) for another
 * program to serve from. Costs one write of the whole map a change; nothing is ever half there.
 */
import { readFileSync } from 'node:fs';
import type { DhcpMapContent } from '@ipwarden/protocol';
import { writeFileAtomicAsync } from '../atomic-file.js';
import type { DhcpApplier } from './applier.js';

export class FileApplier implements DhcpApplier {
  readonly backend = 'file';

  constructor(private readonly path: string) {}

  async apply(map: DhcpMapContent): Promise<void> {
    const text = `${JSON.stringify({ version: map.version, subnets: map.subnets, hosts: map.hosts }, null, 1)}\n`;
    try {
      await writeFileAtomicAsync(this.path, text, 0o644);
    } catch (error) {
      throw new Error(`cannot write ${this.path}: ${(error as Error).message}`);
    }
  }

  async served(): Promise<DhcpMapContent['hosts'] | undefined> {
    try {
      return (JSON.parse(readFileSync(this.path, 'utf8')) as DhcpMapContent).hosts;
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {}
}
