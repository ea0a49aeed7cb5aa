import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema/index.ts',
  // DRIZZLE_OUT lets the drift test compare against a scratch copy of the migrations.
  out: process.env.DRIZZLE_OUT ?? './drizzle',
});
