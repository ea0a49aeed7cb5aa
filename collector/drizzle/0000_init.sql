CREATE TABLE "agents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"hostname" text,
	"token_hash" text NOT NULL,
	"last_seq" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "agents_name_unique" UNIQUE("name"),
	CONSTRAINT "agents_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "bindings" (
	"vlan" integer NOT NULL,
	"outer_vlan" integer DEFAULT 0 NOT NULL,
	"ip" "inet" NOT NULL,
	"mac" "macaddr" NOT NULL,
	"agent_id" uuid NOT NULL,
	"interface" text NOT NULL,
	"sources" text[] NOT NULL,
	"hostnames" text[] NOT NULL,
	"first_seen" timestamp with time zone NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	CONSTRAINT "bindings_vlan_outer_vlan_ip_mac_pk" PRIMARY KEY("vlan","outer_vlan","ip","mac")
);
--> statement-breakpoint
CREATE TABLE "sighting_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"agent_id" uuid NOT NULL,
	"seq" bigint NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"interface" text NOT NULL,
	"vlan" integer NOT NULL,
	"outer_vlan" integer DEFAULT 0 NOT NULL,
	"source" text NOT NULL,
	"kind" text NOT NULL,
	"event" text NOT NULL,
	"ip" "inet" NOT NULL,
	"mac" "macaddr" NOT NULL,
	"previous_mac" "macaddr",
	"hostname" text
);
--> statement-breakpoint
ALTER TABLE "bindings" ADD CONSTRAINT "bindings_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sighting_events" ADD CONSTRAINT "sighting_events_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bindings_mac_idx" ON "bindings" USING btree ("mac");--> statement-breakpoint
CREATE INDEX "bindings_last_seen_idx" ON "bindings" USING btree ("last_seen");--> statement-breakpoint
CREATE INDEX "sighting_events_ip_idx" ON "sighting_events" USING btree ("ip","at");--> statement-breakpoint
CREATE INDEX "sighting_events_mac_idx" ON "sighting_events" USING btree ("mac","at");