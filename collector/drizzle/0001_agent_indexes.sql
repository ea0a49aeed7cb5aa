CREATE INDEX "bindings_agent_idx" ON "bindings" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "sighting_events_agent_idx" ON "sighting_events" USING btree ("agent_id");