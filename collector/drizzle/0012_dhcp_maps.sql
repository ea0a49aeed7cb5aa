CREATE TABLE "agent_dhcp" (
	"agent_id" uuid PRIMARY KEY NOT NULL,
	"sent_version" bigint DEFAULT 0 NOT NULL,
	"applied_version" bigint,
	"applied" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"applied_at" timestamp with time zone,
	"failed_version" bigint,
	"failure" text,
	"failed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "dhcp_changes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"subnet_id" uuid NOT NULL,
	"version" bigint NOT NULL,
	"mac" "macaddr",
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "serves" uuid[];--> statement-breakpoint
ALTER TABLE "subnets" ADD COLUMN "dhcp_version" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "agent_dhcp" ADD CONSTRAINT "agent_dhcp_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dhcp_changes" ADD CONSTRAINT "dhcp_changes_subnet_id_subnets_id_fk" FOREIGN KEY ("subnet_id") REFERENCES "public"."subnets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "dhcp_changes_subnet_idx" ON "dhcp_changes" USING btree ("subnet_id","version");--> statement-breakpoint
-- DHCP map changes, recorded by the database itself (schema/dhcp.ts, dhcp_changes): whatever
-- path changes an address carrying a MAC, a subnet's DHCP options or a dynamic range, the
-- subnet's dhcp_version rises in that transaction, a row per changed MAC says what, and
-- collectors hear of it at commit (NOTIFY is delivered in commit order). The subnet row's lock
-- orders the versions of one subnet as their transactions commit.
CREATE FUNCTION ipwarden_dhcp_record(touched jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  payload text;
BEGIN
  WITH t AS (
    SELECT DISTINCT (e->>'subnet')::uuid AS subnet_id, (e->>'mac')::macaddr AS mac
    FROM jsonb_array_elements(touched) e
  ), bumped AS (
    UPDATE subnets s SET dhcp_version = s.dhcp_version + 1
    FROM (SELECT DISTINCT subnet_id FROM t) u WHERE s.id = u.subnet_id
    RETURNING s.id, s.dhcp_version
  ), logged AS (
    INSERT INTO dhcp_changes (subnet_id, version, mac)
    SELECT t.subnet_id, b.dhcp_version, t.mac FROM t JOIN bumped b ON b.id = t.subnet_id
  )
  SELECT string_agg(id || ':' || dhcp_version, ',') INTO payload FROM bumped;
  -- NOTIFY carries at most 8000 bytes: past that, "*" (read every subnet's version).
  IF payload IS NOT NULL THEN
    PERFORM pg_notify('ipwarden_dhcp', CASE WHEN length(payload) > 7900 THEN '*' ELSE payload END);
  END IF;
END $$;
--> statement-breakpoint
CREATE FUNCTION ipwarden_dhcp_addresses() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  touched jsonb;
BEGIN
  -- Addresses in DHCP maps: those with a MAC, but reservations (API.md, "Addresses").
  IF TG_OP = 'INSERT' THEN
    SELECT jsonb_agg(jsonb_build_object('subnet', subnet_id, 'mac', mac)) INTO touched
    FROM new_rows WHERE mac IS NOT NULL AND kind <> 'reserved';
  ELSIF TG_OP = 'DELETE' THEN
    SELECT jsonb_agg(jsonb_build_object('subnet', subnet_id, 'mac', mac)) INTO touched
    FROM old_rows WHERE mac IS NOT NULL AND kind <> 'reserved';
  ELSE
    SELECT jsonb_agg(x) INTO touched FROM (
      SELECT jsonb_build_object('subnet', o.subnet_id, 'mac', o.mac) AS x
      FROM old_rows o JOIN new_rows n ON n.id = o.id
      WHERE o.mac IS NOT NULL AND o.kind <> 'reserved'
        AND (o.subnet_id, o.ip, o.mac, o.hostname, o.kind) IS DISTINCT FROM (n.subnet_id, n.ip, n.mac, n.hostname, n.kind)
      UNION ALL
      SELECT jsonb_build_object('subnet', n.subnet_id, 'mac', n.mac)
      FROM old_rows o JOIN new_rows n ON n.id = o.id
      WHERE n.mac IS NOT NULL AND n.kind <> 'reserved'
        AND (o.subnet_id, o.ip, o.mac, o.hostname, o.kind) IS DISTINCT FROM (n.subnet_id, n.ip, n.mac, n.hostname, n.kind)
    ) changed;
  END IF;
  IF touched IS NOT NULL THEN PERFORM ipwarden_dhcp_record(touched); END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER addresses_dhcp_insert AFTER INSERT ON addresses REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ipwarden_dhcp_addresses();
--> statement-breakpoint
CREATE TRIGGER addresses_dhcp_update AFTER UPDATE ON addresses REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ipwarden_dhcp_addresses();
--> statement-breakpoint
CREATE TRIGGER addresses_dhcp_delete AFTER DELETE ON addresses REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ipwarden_dhcp_addresses();
--> statement-breakpoint
-- A subnet's DHCP options, as the maps carry them (DhcpSubnet in packages/protocol).
CREATE FUNCTION ipwarden_dhcp_subnet_options() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (OLD.gateway, OLD.dns_servers, OLD.ntp_servers, OLD.domain, OLD.lease_seconds, OLD.next_server, OLD.boot_file)
     IS DISTINCT FROM
     (NEW.gateway, NEW.dns_servers, NEW.ntp_servers, NEW.domain, NEW.lease_seconds, NEW.next_server, NEW.boot_file) THEN
    PERFORM ipwarden_dhcp_record(jsonb_build_array(jsonb_build_object('subnet', NEW.id, 'mac', NULL)));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER subnets_dhcp_options AFTER UPDATE OF gateway, dns_servers, ntp_servers, domain, lease_seconds, next_server, boot_file
  ON subnets FOR EACH ROW EXECUTE FUNCTION ipwarden_dhcp_subnet_options();
--> statement-breakpoint
CREATE FUNCTION ipwarden_dhcp_ranges() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.purpose = 'dynamic' THEN
    PERFORM ipwarden_dhcp_record(jsonb_build_array(jsonb_build_object('subnet', OLD.subnet_id, 'mac', NULL)));
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.purpose = 'dynamic' THEN
    PERFORM ipwarden_dhcp_record(jsonb_build_array(jsonb_build_object('subnet', NEW.subnet_id, 'mac', NULL)));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER ranges_dhcp AFTER INSERT OR UPDATE OR DELETE ON ranges FOR EACH ROW EXECUTE FUNCTION ipwarden_dhcp_ranges();
