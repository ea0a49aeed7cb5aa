/** `GET|PUT /settings` (API.md, "Discovery"): a change reaches every connected agent at once. */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { readSettings, updateSettings } from '../../settings.js';
import { ADMIN, READ, requireRole } from '../auth.js';
import type { AppContext } from '../context.js';

const Seconds = (maximum: number) => Type.Integer({ minimum: 1, maximum });

const SettingsChange = Type.Object(
  {
    discovery: Type.Optional(Type.Object({ enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false })),
    refreshSeconds: Type.Optional(Seconds(86_400)),
    observationWindowSeconds: Type.Optional(Seconds(365 * 86_400)),
    conflictQuietSeconds: Type.Optional(Seconds(30 * 86_400)),
  },
  { additionalProperties: false },
);

export async function settingsRoutes(app: FastifyInstance, { db, principals }: AppContext): Promise<void> {
  app.get('/settings', { onRequest: requireRole(principals, READ) }, async () => readSettings(db));

  app.put<{ Body: Static<typeof SettingsChange> }>(
    '/settings',
    { schema: { body: SettingsChange }, onRequest: requireRole(principals, ADMIN) },
    // Agents hear of it from every collector they are connected to (server.ts, followSettings).
    async (request) => updateSettings(db, request.body),
  );
}
