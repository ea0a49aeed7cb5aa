/**
 * The dashboard (`dashboard/`, a workspace package built by Vite) served at `/`: index.html for
 * the root, the hashed bundle under /assets. Nothing is fetched from elsewhere at run time, and
 * the Content-Security-Policy says so to the browser: scripts, styles and connections only to
 * this origin. A checkout whose dashboard was not built answers `/` with a problem saying how
 * to build it, and serves the API as ever.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { ApiError, ErrorCode } from '../errors.js';

const POLICY = [
  "default-src 'self'",
  "img-src 'self' data:",
  "style-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/** The built bundle's directory, if the dashboard package is installed and built. */
export function dashboardDir(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('@ipwarden/dashboard/package.json');
    const dist = join(dirname(pkg), 'dist');
    return existsSync(join(dist, 'index.html')) ? dist : undefined;
  } catch {
    return undefined;
  }
}

export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  const root = dashboardDir();
  if (root === undefined) {
    app.get('/', { schema: { hide: true } }, async () => {
      throw new ApiError(ErrorCode.UNAVAILABLE, 'the dashboard is not built: run `pnpm build` in the checkout');
    });
    return;
  }
  // Registered as a plugin of its own, so this hook sees the dashboard's files and nothing else.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', POLICY);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    // One route per file, found once at start: nothing else at the root (/healthz, /metrics,
    // /docs, /api/v1) is shadowed by a catch-all.
    wildcard: false,
    index: 'index.html',
    schemaHide: true,
    setHeaders: (response, path) => {
      // The bundle's names carry their content's hash; index.html must be asked for anew.
      response.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}
