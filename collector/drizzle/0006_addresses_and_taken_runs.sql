CREATE TABLE "addresses" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"subnet_id" uuid NOT NULL,
	"ip" "inet" NOT NULL,
	"kind" text NOT NULL,
	"mac" "macaddr",
	"hostname" text,
	"owner_id" uuid NOT NULL,
	"comment" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "addresses_subnet_ip_unique" UNIQUE("subnet_id","ip"),
	CONSTRAINT "addresses_kind_check" CHECK ("addresses"."kind" in ('reserved', 'device', 'sticky', 'auto', 'extra', 'claim'))
);
--> statement-breakpoint
CREATE TABLE "taken_runs" (
	"subnet_id" uuid NOT NULL,
	"lo" "inet" NOT NULL,
	"hi" "inet" NOT NULL,
	CONSTRAINT "taken_runs_subnet_id_lo_pk" PRIMARY KEY("subnet_id","lo")
);
--> statement-breakpoint
ALTER TABLE "addresses" ADD CONSTRAINT "addresses_subnet_id_subnets_id_fk" FOREIGN KEY ("subnet_id") REFERENCES "public"."subnets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "addresses" ADD CONSTRAINT "addresses_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "taken_runs" ADD CONSTRAINT "taken_runs_subnet_id_subnets_id_fk" FOREIGN KEY ("subnet_id") REFERENCES "public"."subnets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "addresses_ip_idx" ON "addresses" USING btree ("ip");--> statement-breakpoint
CREATE INDEX "addresses_mac_idx" ON "addresses" USING btree ("mac");--> statement-breakpoint
CREATE INDEX "addresses_owner_idx" ON "addresses" USING btree ("owner_id");--> statement-breakpoint
CREATE INDEX "taken_runs_hi_idx" ON "taken_runs" USING btree ("subnet_id","hi");