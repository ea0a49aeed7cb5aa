/** The operator's settings (API.md, `GET|PUT /settings`), kept in one row. */
import { eq } from 'drizzle-orm';
import type { Database } from './db/database.js';
import { settings } from './db/schema/index.js';

export interface Settings {
  discovery: { enabled: boolean };
  refreshSeconds: number;
  observationWindowSeconds: number;
  conflictQuietSeconds: number;
}

export type SettingsChange = {
  discovery?: { enabled?: boolean };
  refreshSeconds?: number;
  observationWindowSeconds?: number;
  conflictQuietSeconds?: number;
};

function view(row: typeof settings.$inferSelect): Settings {
  return {
    discovery: { enabled: row.discoveryEnabled },
    refreshSeconds: row.refreshSeconds,
    observationWindowSeconds: row.observationWindowSeconds,
    conflictQuietSeconds: row.conflictQuietSeconds,
  };
}

export async function readSettings(db: Database): Promise<Settings> {
  const [row] = await db.select().from(settings).where(eq(settings.id, 1));
  if (row !== undefined) return view(row);
  // The defaults of the schema, written once.
  const [created] = await db.insert(settings).values({ id: 1 }).onConflictDoNothing().returning();
  return created !== undefined ? view(created) : readSettings(db);
}

export async function updateSettings(db: Database, change: SettingsChange): Promise<Settings> {
  const current = await readSettings(db);
  const values = {
    discoveryEnabled: change.discovery?.enabled,
    refreshSeconds: change.refreshSeconds,
    observationWindowSeconds: change.observationWindowSeconds,
    conflictQuietSeconds: change.conflictQuietSeconds,
  };
  if (Object.values(values).every((v) => v === undefined)) return current;
  const [row] = await db.update(settings).set(values).where(eq(settings.id, 1)).returning();
  return view(row!);
}
