import { sql } from 'drizzle-orm';
import { check, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export type Role = 'admin' | 'user' | 'viewer';

/** People and scripts using the API (API.md, "Users and tokens"): one live token each. */
export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull().unique(),
    role: text('role').$type<Role>().notNull(),
    /** SHA-256 of the user's token; null once revoked. The token itself is shown once. */
    tokenHash: text('token_hash').unique(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [check('users_role_check', sql`${t.role} in ('admin', 'user', 'viewer')`)],
);
