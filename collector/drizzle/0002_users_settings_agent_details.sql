CREATE TABLE "settings" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"discovery_enabled" boolean DEFAULT true NOT NULL,
	"refresh_seconds" integer DEFAULT 600 NOT NULL,
	"observation_window_seconds" integer DEFAULT 86400 NOT NULL,
	"conflict_quiet_seconds" integer DEFAULT 3600 NOT NULL,
	CONSTRAINT "settings_one_row" CHECK ("settings"."id" = 1)
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"token_hash" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "users_name_unique" UNIQUE("name"),
	CONSTRAINT "users_token_hash_unique" UNIQUE("token_hash"),
	CONSTRAINT "users_role_check" CHECK ("users"."role" in ('admin', 'user', 'viewer'))
);
--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "version" text;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "interfaces" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "dhcp_backend" text DEFAULT 'none' NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "dhcp_applied_version" bigint;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "stats" jsonb;