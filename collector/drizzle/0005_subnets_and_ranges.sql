CREATE TABLE "ranges" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"subnet_id" uuid NOT NULL,
	"start" "inet" NOT NULL,
	"end" "inet" NOT NULL,
	"purpose" text NOT NULL,
	"comment" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ranges_purpose_check" CHECK ("ranges"."purpose" in ('dynamic', 'reserved')),
	CONSTRAINT "ranges_order_check" CHECK ("ranges"."start" <= "ranges"."end")
);
--> statement-breakpoint
CREATE TABLE "subnets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"cidr" "cidr" NOT NULL,
	"vlan" integer DEFAULT 0 NOT NULL,
	"name" text,
	"gateway" "inet",
	"dns_servers" "inet"[] DEFAULT '{}' NOT NULL,
	"ntp_servers" "inet"[] DEFAULT '{}' NOT NULL,
	"domain" text,
	"lease_seconds" integer,
	"next_server" "inet",
	"boot_file" text,
	"managed" boolean DEFAULT true NOT NULL,
	"allocation" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subnets_allocation_check" CHECK ("subnets"."allocation" in ('lowest', 'random')),
	CONSTRAINT "subnets_vlan_check" CHECK ("subnets"."vlan" between 0 and 4095)
);
--> statement-breakpoint
ALTER TABLE "ranges" ADD CONSTRAINT "ranges_subnet_id_subnets_id_fk" FOREIGN KEY ("subnet_id") REFERENCES "public"."subnets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ranges_subnet_idx" ON "ranges" USING btree ("subnet_id","start");--> statement-breakpoint
CREATE INDEX "subnets_cidr_idx" ON "subnets" USING btree ("cidr");