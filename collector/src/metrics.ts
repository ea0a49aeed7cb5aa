/**
 * The collector's Prometheus metrics (`GET /metrics`), in a registry of its own so that two
 * collectors in one process (as in tests) keep separate counts.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly agentsConnected = new Gauge({
    name: 'ipwarden_agents_connected',
    help: 'Agents with a welcomed WebSocket to this collector',
    registers: [this.registry],
  });
  readonly sightingsStored = new Counter({
    name: 'ipwarden_sightings_stored_total',
    help: 'Sightings stored from agent batches (replays not counted)',
    registers: [this.registry],
  });
  readonly batches = new Counter({
    name: 'ipwarden_batches_total',
    help: 'Sighting batches received, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: 'ipwarden_batch_store_seconds',
    help: 'Time from a batch arriving to its ack, in seconds',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly protocolErrors = new Counter({
    name: 'ipwarden_agent_protocol_errors_total',
    help: 'Agent connections refused or closed for a protocol error, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly dhcpApplyFailures = new Counter({
    name: 'ipwarden_dhcp_apply_failures_total',
    help: 'DHCP maps an agent reported it could not apply',
    registers: [this.registry],
  });
  readonly dhcpAgentsBehind = new Gauge({
    name: 'ipwarden_dhcp_agents_behind',
    help: 'Agents serving DHCP whose applied map is older than their subnets (read from the database at each scrape)',
    registers: [this.registry],
  });
  readonly dhcpDrifts = new Counter({
    name: 'ipwarden_dhcp_drifts_total',
    help: 'Times an agent read back from its DHCP server something other than the map it applied',
    registers: [this.registry],
  });
  readonly dhcpApplied = new Counter({
    name: 'ipwarden_dhcp_applied_total',
    help: 'DHCP maps and changes agents acknowledged as applied',
    registers: [this.registry],
  });
  readonly dhcpPushes = new Counter({
    name: 'ipwarden_dhcp_pushes_total',
    help: 'DHCP maps sent to agents: whole maps, and changes since the one before',
    labelNames: ['form'] as const,
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: 'ipwarden_http_requests_total',
    help: 'API requests answered, by method and status',
    labelNames: ['method', 'status'] as const,
    registers: [this.registry],
  });

  readonly allocationBatches = new Counter({
    name: 'ipwarden_allocation_batches_total',
    help: 'Allocation batches, by how they were decided: "ahead" from what the last batch left, or after a "read"',
    labelNames: ['decided'] as const,
    registers: [this.registry],
  });
  readonly allocationsHeldBack = new Counter({
    name: 'ipwarden_allocation_subnets_held_back_total',
    help: 'Subnets of a batch that wrote nothing, having changed since the batch decided (decided again)',
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'ipwarden_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by outcome: delivered (2xx), failed (retried, or 410: disabled), dropped (given up after the retry period)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly webhookLagSeconds = new Gauge({
    name: 'ipwarden_webhook_lag_seconds',
    help: 'Age of the event a webhook is being delivered, 0 when it has all (reported by the collector delivering it)',
    labelNames: ['webhook'] as const,
    registers: [this.registry],
  });
  readonly eventStreamClients = new Gauge({
    name: 'ipwarden_event_stream_clients',
    help: 'Open GET /events streams on this collector',
    registers: [this.registry],
  });

  readonly conflictsOpen = new Gauge({
    name: 'ipwarden_conflicts_open',
    help: 'Conflicts not resolved, by kind and status (open, or acknowledged by an admin)',
    labelNames: ['kind', 'status'] as const,
    registers: [this.registry],
  });
  readonly conflictsOpened = new Counter({
    name: 'ipwarden_conflicts_opened_total',
    help: 'Conflicts this collector opened, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly conflictsResolved = new Counter({
    name: 'ipwarden_conflicts_resolved_total',
    help: 'Conflicts this collector resolved, by kind and by what: quiet, allocation, exemption, user',
    labelNames: ['kind', 'by'] as const,
    registers: [this.registry],
  });
  readonly conflictsQuieted = new Counter({
    name: 'ipwarden_conflicts_quieted_total',
    help: 'Sightings that would have been evidence of a conflict, kept quiet by a rule (virtual-router, proxy-arp, dynamic-range, …), by rule and kind',
    labelNames: ['rule', 'kind'] as const,
    registers: [this.registry],
  });
  readonly reconcileLagSeconds = new Histogram({
    name: 'ipwarden_reconcile_lag_seconds',
    help: 'Time from a batch of sightings being stored to its reconciliation, in seconds',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly reconcileSightings = new Counter({
    name: 'ipwarden_reconcile_sightings_total',
    help: 'Sightings judged against the allocations table',
    registers: [this.registry],
  });
  readonly allocationSnapshots = new Gauge({
    name: 'ipwarden_reconcile_allocation_snapshots',
    help: 'Subnets whose allocations the reconciler holds in memory ("held"), and those waiting to be read ("pending")',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly allocationSnapshotAddresses = new Gauge({
    name: 'ipwarden_reconcile_allocation_snapshot_addresses',
    help: 'Addresses the reconciler holds in memory across its subnets',
    registers: [this.registry],
  });
  readonly reconcileDropped = new Counter({
    name: 'ipwarden_reconcile_dropped_total',
    help: 'Sightings stored but not judged, the reconciliation queue being full (they stay in the database)',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'ipwarden_' });
  }
}
