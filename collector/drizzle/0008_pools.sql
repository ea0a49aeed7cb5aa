CREATE TABLE "pool_ranges" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"pool_id" uuid NOT NULL,
	"subnet_id" uuid NOT NULL,
	"start" "inet" NOT NULL,
	"end" "inet" NOT NULL,
	"prefix" integer,
	"gateway" "inet",
	"dns_servers" "inet"[],
	"position" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pools" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"name_prefix" text NOT NULL,
	"prefix" integer,
	"gateway" "inet",
	"dns_servers" "inet"[],
	"pre_allocations" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"exclusions" text[] DEFAULT '{}' NOT NULL,
	"allocation" text DEFAULT 'sequential' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pools_name_unique" UNIQUE("name")
);
--> statement-breakpoint
ALTER TABLE "addresses" ADD COLUMN "pool_id" uuid;--> statement-breakpoint
ALTER TABLE "addresses" ADD COLUMN "claim" text;--> statement-breakpoint
ALTER TABLE "pool_ranges" ADD CONSTRAINT "pool_ranges_pool_id_pools_id_fk" FOREIGN KEY ("pool_id") REFERENCES "public"."pools"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pool_ranges" ADD CONSTRAINT "pool_ranges_subnet_id_subnets_id_fk" FOREIGN KEY ("subnet_id") REFERENCES "public"."subnets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "pool_ranges_subnet_idx" ON "pool_ranges" USING btree ("subnet_id","start");--> statement-breakpoint
CREATE INDEX "pool_ranges_pool_idx" ON "pool_ranges" USING btree ("pool_id","position");--> statement-breakpoint
ALTER TABLE "addresses" ADD CONSTRAINT "addresses_pool_id_pools_id_fk" FOREIGN KEY ("pool_id") REFERENCES "public"."pools"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "addresses" ADD CONSTRAINT "addresses_pool_claim_unique" UNIQUE("pool_id","claim");