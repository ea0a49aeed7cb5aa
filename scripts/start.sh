#!/usr/bin/env bash
# Starts ipwarden on this machine, as root on a fresh Debian 12 with Node 20: installs what is
# missing (scripts/setup.sh), builds, then runs the collector on its embedded database together
# with a local agent watching this machine's interfaces. Prints where the API listens and the
# admin token; Ctrl-C stops both.
#
# Environment: IPWARDEN_LISTEN (default 0.0.0.0:8460), IPWARDEN_DATA_DIR (default
# /var/lib/ipwarden), IPWARDEN_STATE_DIR (the agent's, default /var/lib/ipwarden-agent), and
# every other option of ipwarden-collector and ipwarden-agent run (README, "Configuration").
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
pnpm build >/dev/null

export IPWARDEN_LISTEN=${IPWARDEN_LISTEN:-0.0.0.0:8460}
export IPWARDEN_DATA_DIR=${IPWARDEN_DATA_DIR:-/var/lib/ipwarden}
export IPWARDEN_STATE_DIR=${IPWARDEN_STATE_DIR:-/var/lib/ipwarden-agent}
PORT=${IPWARDEN_LISTEN##*:}
HOST=${IPWARDEN_LISTEN%:*}
# A wildcard listen address is reached on loopback.
case $HOST in 0.0.0.0 | "[::]") HOST=127.0.0.1 ;; esac
LOCAL="http://$HOST:$PORT"

COLLECTOR_PID=
AGENT_PID=
stop() {
  trap - EXIT INT TERM
  [ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null || true
  [ -n "$COLLECTOR_PID" ] && kill -TERM "$COLLECTOR_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

node --max-semi-space-size=64 collector/bin/ipwarden-collector.js &
COLLECTOR_PID=$!
for _ in $(seq 1 300); do
  node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$LOCAL/readyz" && break
  kill -0 "$COLLECTOR_PID" 2>/dev/null || { echo "start: the collector did not start" >&2; exit 1; }
  sleep 0.2
done

# The collector keeps the secrets it made in its data directory; the agent enrolls with them.
SECRET=${IPWARDEN_AGENT_SECRET:-$(cat "$IPWARDEN_DATA_DIR/agent-secret")}
IPWARDEN_AGENT_SECRET=$SECRET node --max-semi-space-size=8 agent/bin/ipwarden-agent.js run --collector "$LOCAL" &
AGENT_PID=$!

ADMIN_TOKEN=${IPWARDEN_ADMIN_TOKEN:-$(cat "$IPWARDEN_DATA_DIR/admin-token")}
cat <<MSG

ipwarden is running.
  dashboard:    $LOCAL/ (sign in with the admin token)
  API:          $LOCAL/api/v1 (listening on $IPWARDEN_LISTEN)
  admin token:  $ADMIN_TOKEN
  try:          curl -H "Authorization: Bearer $ADMIN_TOKEN" $LOCAL/api/v1/discoveries
  Ctrl-C stops the collector and the agent.

MSG
wait -n "$COLLECTOR_PID" "$AGENT_PID"
