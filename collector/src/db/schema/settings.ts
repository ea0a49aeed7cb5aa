import { sql } from 'drizzle-orm';
import { boolean, check, integer, pgTable } from 'drizzle-orm/pg-core';

/** Seconds a sighting counts as "in use" until an operator says otherwise (a day). */
export const DEFAULT_OBSERVATION_WINDOW_SECONDS = 86_400;

/** The operator's settings (API.md, `GET|PUT /settings`): one row, id 1. */
export const settings = pgTable(
  'settings',
  {
    id: integer('id').primaryKey().default(1),
    discoveryEnabled: boolean('discovery_enabled').notNull().default(true),
    /** Seconds before an agent reports an unchanged binding again (MAAS uses 600). */
    refreshSeconds: integer('refresh_seconds').notNull().default(600),
    /** Seconds a sighting counts as "in use" for allocation and conflicts. */
    observationWindowSeconds: integer('observation_window_seconds')
      .notNull()
      .default(DEFAULT_OBSERVATION_WINDOW_SECONDS),
    /** Seconds a conflict's condition must be absent before it resolves by itself. */
    conflictQuietSeconds: integer('conflict_quiet_seconds').notNull().default(3_600),
  },
  (t) => [check('settings_one_row', sql`${t.id} = 1`)],
);
