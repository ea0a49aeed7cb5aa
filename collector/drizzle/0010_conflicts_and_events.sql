CREATE TABLE "conflict_exemptions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"cidr" "cidr" NOT NULL,
	"macs" "macaddr"[] DEFAULT '{}' NOT NULL,
	"kinds" text[] DEFAULT '{}' NOT NULL,
	"comment" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "conflicts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"vlan" integer NOT NULL,
	"outer_vlan" integer DEFAULT 0 NOT NULL,
	"subject" text NOT NULL,
	"ip" "inet" NOT NULL,
	"macs" jsonb NOT NULL,
	"subnet_id" uuid,
	"address_id" uuid,
	"status" text DEFAULT 'open' NOT NULL,
	"first_seen" timestamp with time zone NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	"condition_at" timestamp with time zone NOT NULL,
	"evidence" jsonb NOT NULL,
	"acknowledged_by" text,
	"acknowledged_at" timestamp with time zone,
	"resolved_by" text,
	"resolved_at" timestamp with time zone,
	"comment" text,
	CONSTRAINT "conflicts_status_check" CHECK ("conflicts"."status" in ('open', 'acknowledged', 'resolved'))
);
--> statement-breakpoint
CREATE TABLE "dhcp_servers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"vlan" integer NOT NULL,
	"outer_vlan" integer DEFAULT 0 NOT NULL,
	"ip" "inet",
	"mac" "macaddr",
	"comment" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dhcp_servers_ip_or_mac" CHECK ("dhcp_servers"."ip" is not null or "dhcp_servers"."mac" is not null)
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"type" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"data" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhooks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"url" text NOT NULL,
	"event_types" text[] NOT NULL,
	"secret" text NOT NULL,
	"format" text DEFAULT 'json' NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"delivered_id" bigint NOT NULL,
	"failures" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"last_delivery_at" timestamp with time zone,
	"last_status" integer,
	"last_error" text,
	"dropped" bigint DEFAULT 0 NOT NULL,
	"lease_holder" uuid,
	"lease_until" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "addresses" ADD COLUMN "previous_mac" "macaddr";--> statement-breakpoint
ALTER TABLE "addresses" ADD COLUMN "mac_changed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "subnets" ADD COLUMN "dhcp_servers" "inet"[] DEFAULT '{}' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "conflicts_live_unique" ON "conflicts" USING btree ("kind","vlan","outer_vlan","subject") WHERE "conflicts"."status" <> 'resolved';--> statement-breakpoint
CREATE INDEX "conflicts_live_condition_idx" ON "conflicts" USING btree ("condition_at") WHERE "conflicts"."status" <> 'resolved';--> statement-breakpoint
CREATE INDEX "conflicts_ip_idx" ON "conflicts" USING btree ("ip");--> statement-breakpoint
CREATE INDEX "conflicts_status_idx" ON "conflicts" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "events_type_idx" ON "events" USING btree ("type","id");