/** The operator's settings (API.md, `GET|PUT /settings`), kept in one row. */
import { eq, sql } from 'drizzle-orm';
import type { Database, DatabaseHandle } from './db/database.js';
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
  return db.transaction(async (tx) => {
    const [row] = await tx.update(settings).set(values).where(eq(settings.id, 1)).returning();
    // Every collector hears of it at commit, and tells its own agents (followSettings).
    await tx.execute(sql`select pg_notify(${SETTINGS_CHANNEL}, '')`);
    return view(row!);
  });
}

/** Collectors hear here that the settings changed, through whichever of them. */
export const SETTINGS_CHANNEL = 'ipwarden_settings';

/**
 * Calls `changed(before, after)` whenever the settings change, through this collector or
 * another on the same database; what it throws is logged by `onError`, and the next change
 * comes all the same.
 */
export async function followSettings(
  database: DatabaseHandle,
  changed: (before: Settings, after: Settings) => Promise<void> | void,
  onError: (error: unknown) => void,
): Promise<() => Promise<void>> {
  let known = await readSettings(database.db);
  let reading = Promise.resolve();
  return database.listen(SETTINGS_CHANNEL, () => {
    reading = reading
      .then(async () => {
        const now = await readSettings(database.db);
        const before = known;
        known = now;
        await changed(before, now);
      })
      .catch(onError);
  });
}
