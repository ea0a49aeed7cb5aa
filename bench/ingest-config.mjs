/**
 * bench:ingest's knobs (ingest.mjs): what it reads from the environment, and the fixed sizes and
 * gaps of its phases — shared by the phases and the report (ingest-report.mjs).
 */
const env = process.env;
export const AGENTS = Number(env.BENCH_AGENTS ?? 100);
export const SIGHTINGS = Number(env.BENCH_SIGHTINGS ?? 1_500_000); // enough for SECONDS at 60,000/s
export const SECONDS = Number(env.BENCH_SECONDS ?? 25);
export const WARMUP_SECONDS = 3;
export const BATCHES = (env.BENCH_BATCHES ?? '1000').split(',').map(Number);
export const ROUNDS = Number(env.BENCH_ROUNDS ?? 2);
export const WINDOW = Number(env.BENCH_WINDOW ?? 64); // the agent's own (DEFAULT_WINDOW in agent/src/uplink.ts)
export const PROBES = Number(env.BENCH_PROBES ?? 200);
export const PROBE_GAP_MS = 30;
export const LOAD_RATE = Number(env.BENCH_LOAD_RATE ?? 50_000);
export const OFFENDERS = Number(env.BENCH_OFFENDERS ?? 300);
export const OFFENDER_GAP_MS = 100;
export const OFFENDER_FIRST = 4 * 256; // 10.99.4.0: offsets in 10.99.0.0/16, clear of the discovery probes
/** After the agents stop, how long an "on" collector is given to judge what it has stored. */
export const CATCH_UP_SECONDS = 60;
export const PROFILE = env.BENCH_PROFILE === '1';
export const AGENT_BATCH = 1000; // the agent's largest batch (DEFAULT_BATCH_ITEMS in agent/src/uplink.ts)
