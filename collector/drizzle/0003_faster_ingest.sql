ALTER TABLE "bindings" DROP CONSTRAINT "bindings_agent_id_agents_id_fk";
--> statement-breakpoint
ALTER TABLE "sighting_events" DROP CONSTRAINT "sighting_events_agent_id_agents_id_fk";
--> statement-breakpoint
DROP INDEX "bindings_agent_idx";--> statement-breakpoint
DROP INDEX "bindings_last_seen_idx";--> statement-breakpoint
DROP INDEX "sighting_events_agent_idx";--> statement-breakpoint
ALTER TABLE "bindings" DROP CONSTRAINT "bindings_vlan_outer_vlan_ip_mac_pk";--> statement-breakpoint
ALTER TABLE "bindings" ADD CONSTRAINT "bindings_ip_vlan_outer_vlan_mac_pk" PRIMARY KEY("ip","vlan","outer_vlan","mac");