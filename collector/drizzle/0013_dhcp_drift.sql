ALTER TABLE "agent_dhcp" ADD COLUMN "drift" jsonb;--> statement-breakpoint
ALTER TABLE "agent_dhcp" ADD COLUMN "drift_at" timestamp with time zone;