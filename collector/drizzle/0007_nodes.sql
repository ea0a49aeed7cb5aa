CREATE TABLE "node_interfaces" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"node_id" uuid NOT NULL,
	"mac" "macaddr" NOT NULL,
	"name" text,
	"virtual" boolean DEFAULT false NOT NULL,
	"position" integer NOT NULL,
	CONSTRAINT "node_interfaces_mac_unique" UNIQUE("mac")
);
--> statement-breakpoint
CREATE TABLE "nodes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"hostname" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "nodes_hostname_unique" UNIQUE("hostname")
);
--> statement-breakpoint
ALTER TABLE "addresses" ADD COLUMN "node_id" uuid;--> statement-breakpoint
ALTER TABLE "node_interfaces" ADD CONSTRAINT "node_interfaces_node_id_nodes_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."nodes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "node_interfaces_node_idx" ON "node_interfaces" USING btree ("node_id","position");--> statement-breakpoint
ALTER TABLE "addresses" ADD CONSTRAINT "addresses_node_id_nodes_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."nodes"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "addresses_node_idx" ON "addresses" USING btree ("node_id");