/**
 * The netns lab's committed captures (test/fixtures/lab, regenerated with `pnpm lab:fixtures`):
 * real ARP, NDP, mDNS and DHCP traffic from kernels, arping, avahi-daemon, dnsmasq and udhcpc.
 * ipwarden reads them as tshark does and finds the hosts the manifest names.
 */
import { join } from 'node:path';
import { describe } from 'vitest';
import { labChecks, readManifest } from './lab/lab-checks.js';
import { repoRoot } from './support/paths.js';

const dir = join(repoRoot, 'test', 'fixtures', 'lab');
const manifest = readManifest(dir);

describe('the lab fixtures', () => {
  labChecks(() => ({ dir, manifest }));
});
