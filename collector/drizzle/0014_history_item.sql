-- The history's tie-break becomes (agent, seq, item): the events of a batch already stored are
-- numbered in the order their ids gave them, before the id goes (0015).
ALTER TABLE "sighting_events" ADD COLUMN "item" integer;--> statement-breakpoint
UPDATE "sighting_events" AS e SET "item" = r.item
FROM (SELECT "id", (row_number() OVER (PARTITION BY "agent_id", "seq" ORDER BY "id") - 1)::integer AS item FROM "sighting_events") AS r
WHERE e."id" = r."id";--> statement-breakpoint
ALTER TABLE "sighting_events" ALTER COLUMN "item" SET NOT NULL;--> statement-breakpoint
CREATE INDEX "sighting_events_previous_mac_idx" ON "sighting_events" USING btree ("previous_mac","at") WHERE previous_mac is not null;
