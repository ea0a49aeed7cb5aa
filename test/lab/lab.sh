#!/usr/bin/env bash
# The netns lab: real hosts on one machine, each in its own network namespace, joined by a Linux
# bridge in a namespace of its own, producing the traffic ipwarden watches (kernel ARP and NDP,
# fake and gratuitous ARP, DAD, avahi's mDNS, a dnsmasq DHCP server and a udhcpc client).
#
#   lab.sh capture OUTDIR
#
# writes OUTDIR/{arp,ndp,mdns,dhcp}.pcap (one capture per phase, taken on the bridge) and
# OUTDIR/manifest.json (who was who: namespaces, interfaces' MACs as `ip link` reports them,
# addresses, hostnames, the lease), and prints the manifest on stdout.
#
# Needs root. All traffic stays inside the namespaces it creates (10.99.0.0/24, fd99::/64); the
# host interfaces are named lab0 so that no command can reach the main namespace's eth0 by mistake.
# Everything it starts is stopped by PID and every namespace deleted on exit, failure or signal.
#
# Environment: LAB_PREFIX (namespace name prefix, default iw-<pid>-); LAB_FAIL_AT=setup|arp|ndp|mdns|dhcp
# makes the run fail in that phase while its processes (tcpdump, avahi, dnsmasq) run, to test the
# teardown. Progress and the namespaces' inode numbers go to stderr.
set -Eeuo pipefail

usage() {
  echo "usage: $0 capture OUTDIR" >&2
  exit 2
}
[[ $# -eq 2 && $1 == capture ]] || usage
OUTDIR=$2
if [[ $(id -u) -ne 0 ]]; then
  echo "lab.sh: needs root (network namespaces, tcpdump)" >&2
  exit 1
fi
for tool in ip tcpdump arping ping avahi-daemon dnsmasq udhcpc unshare node; do
  command -v "$tool" >/dev/null || {
    echo "lab.sh: $tool not found" >&2
    exit 1
  }
done

PREFIX=${LAB_PREFIX:-iw-$$-}
[[ $PREFIX =~ ^iw-[A-Za-z0-9-]*$ ]] || {
  echo "lab.sh: LAB_PREFIX must start with iw- (got $PREFIX)" >&2
  exit 2
}
BR=${PREFIX}br
H1=${PREFIX}h1 # pings H2 (ARP, NDP); sends the fake and gratuitous ARP
H2=${PREFIX}h2 # answers; probes a second IPv6 address with DAD
H3=${PREFIX}h3 # avahi-daemon
H4=${PREFIX}h4 # dnsmasq, the DHCP server
H5=${PREFIX}h5 # udhcpc, the DHCP client (no static address)
HOSTS=("$H1" "$H2" "$H3" "$H4" "$H5")
IF=lab0
MDNS_NAME=labhost-mdns
DHCP_NAME=labhost-dhcp
DHCP_FIRST=10.99.0.100
DHCP_LAST=10.99.0.150
DHCP_FIXED=10.99.0.123 # what the hosts file maps the client's MAC to
FAKE_IP=10.99.0.50 FAKE_MAC=02:00:00:00:00:50
GRAT_IP=10.99.0.51 GRAT_MAC=02:00:00:00:00:51
GRAT_REPLY_IP=10.99.0.52 GRAT_REPLY_MAC=02:00:00:00:00:52
DAD_IP=fd99::22

# Logs, configs and captures in progress; removed on exit. Its name carries the prefix, so the
# command lines of this run's processes show which run they belong to (`ps ax | grep iw-`).
WORK=$(mktemp -d "/tmp/${PREFIX}work.XXXXXX")
PIDS=()        # background processes still to stop
CREATED_NS=()  # namespaces to delete
FAILED=1
START=$(date +%s%N)

log() { echo "lab.sh: $*" >&2; }

# Stops one process we started: TERM, then KILL if it lingers; always reaped.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || {
    wait "$pid" 2>/dev/null || true
    return 0
  }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

forget_pid() {
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

cleanup() {
  local rc=$? pid ns
  trap - EXIT ERR INT TERM
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  PIDS=()
  for ns in "${CREATED_NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  if [[ $FAILED -ne 0 ]]; then
    log "failed (exit $rc); logs from $WORK:"
    for f in "$WORK"/*.log; do
      [[ -s $f ]] || continue
      echo "--- $(basename "$f")" >&2
      tail -n 20 "$f" >&2
    done
    [[ $rc -ne 0 ]] || rc=1
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

inns() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

mac_of() { ip -n "$1" -o link show dev "$IF" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }

# Waits (up to $3 tenths of a second) until file $1 contains $2.
wait_for_line() {
  local i
  for ((i = 0; i < $3; i++)); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  log "timed out waiting for '$2' in $(basename "$1")"
  return 1
}

# Captures everything crossing the bridge into $WORK/$1.pcap until stop_capture.
CAPTURE_PID=
start_capture() {
  local name=$1
  # `ip netns exec` execs the command, so $! is tcpdump itself (never background a shell function:
  # $! would be a subshell, and stopping it would leave its child running).
  ip netns exec "$BR" tcpdump -n -U --immediate-mode -i br0 -w "$WORK/$name.pcap" >"$WORK/tcpdump-$name.log" 2>&1 &
  CAPTURE_PID=$!
  PIDS+=("$CAPTURE_PID")
  wait_for_line "$WORK/tcpdump-$name.log" 'listening on' 50
}
stop_capture() {
  sleep 0.2 # let the last frames reach the bridge
  stop_pid "$CAPTURE_PID"
  forget_pid "$CAPTURE_PID"
  CAPTURE_PID=
}

# LAB_FAIL_AT=<phase>: fail in that phase while its processes run, to test the teardown.
fail_point() {
  if [[ ${LAB_FAIL_AT:-} == "$1" ]]; then
    log "failing in phase $1 (LAB_FAIL_AT)"
    false
  fi
}

# --- Topology: a bridge namespace, one veth pair per host namespace -------------------------------
for ns in "$BR" "${HOSTS[@]}"; do
  ip netns add "$ns"
  CREATED_NS+=("$ns")
  # Tests check afterwards that no process is left in these namespaces (/proc/*/ns/net).
  log "netns $ns net:[$(stat -L -c %i "/run/netns/$ns")]"
  # Interfaces come up silent: IPv6 is switched on per interface when a phase needs it.
  inns "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip -n "$BR" link add br0 type bridge mcast_snooping 0 stp_state 0
ip -n "$BR" link set br0 up
n=0
for ns in "${HOSTS[@]}"; do
  n=$((n + 1))
  ip -n "$BR" link add "p$n" type veth peer name "$IF" netns "$ns"
  ip -n "$BR" link set "p$n" master br0
  ip -n "$BR" link set "p$n" up
  ip -n "$ns" link set "$IF" up
done
for i in 1 2 3 4; do ip -n "${PREFIX}h$i" addr add "10.99.0.$i/24" dev "$IF"; done
fail_point setup

enable_ipv6() {
  inns "$1" sysctl -qw "net.ipv6.conf.$IF.disable_ipv6=0"
  ip -n "$1" -6 addr add "$2/64" dev "$IF" nodad
}

# --- ARP: kernel resolution, a fake host, gratuitous request (-U) and reply (-U -P) -------------
log "phase arp"
start_capture arp
inns "$H1" ping -n -c 1 -W 2 10.99.0.2 >"$WORK/ping4.log"
inns "$H1" arping -q -c 1 -w 0.5 -i "$IF" -S "$FAKE_IP" -s "$FAKE_MAC" 10.99.0.2 || true
inns "$H1" arping -q -c 1 -w 0.2 -i "$IF" -U -S "$GRAT_IP" -s "$GRAT_MAC" "$GRAT_IP" || true
inns "$H1" arping -q -c 1 -w 0.2 -i "$IF" -U -P -S "$GRAT_REPLY_IP" -s "$GRAT_REPLY_MAC" "$GRAT_REPLY_IP" || true
fail_point arp
stop_capture

# --- NDP: kernel resolution between nodad addresses, then a DAD probe -----------------------------
log "phase ndp"
start_capture ndp
enable_ipv6 "$H1" fd99::1
enable_ipv6 "$H2" fd99::2
inns "$H1" ping -n -6 -c 1 -W 2 fd99::2 >"$WORK/ping6.log"
ip -n "$H2" -6 addr add "$DAD_IP/64" dev "$IF"
for ((i = 0; i < 40; i++)); do
  [[ -z $(ip -n "$H2" -6 addr show dev "$IF" tentative) ]] && break
  sleep 0.1
done
[[ -z $(ip -n "$H2" -6 addr show dev "$IF" tentative) ]] || {
  log "DAD did not finish"
  false
}
fail_point ndp
stop_capture

# --- mDNS: avahi-daemon announcing its own host name over IPv4 and IPv6 ---------------------------
cat >"$WORK/avahi.conf" <<EOF
[server]
host-name=$MDNS_NAME
use-ipv4=yes
use-ipv6=yes
allow-interfaces=$IF
enable-dbus=no
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=yes
publish-workstation=no
[reflector]
[rlimits]
EOF
log "phase mdns"
start_capture mdns
enable_ipv6 "$H3" fd99::3
# A private mount namespace with a tmpfs on /run (avahi's pid file and socket go there, the
# host's /run is untouched) and a private UTS namespace with the lab host name.
ip netns exec "$H3" unshare -m -u sh -c '
  mount -t tmpfs -o mode=0755 tmpfs /run && mkdir /run/avahi-daemon &&
  hostname "$1" && exec avahi-daemon -f "$2" --no-drop-root --no-chroot --no-rlimits
' avahi "$MDNS_NAME" "$WORK/avahi.conf" >"$WORK/avahi.log" 2>&1 &
AVAHI_PID=$!
PIDS+=("$AVAHI_PID")
wait_for_line "$WORK/avahi.log" 'Server startup complete' 100
fail_point mdns
sleep 2 # the announcements are repeated a second apart
stop_pid "$AVAHI_PID" # its goodbye packets (TTL 0) are captured too
forget_pid "$AVAHI_PID"
stop_capture

# --- DHCP: dnsmasq hands udhcpc the address its hosts file maps the client's MAC to ---------------
CLIENT_MAC=$(mac_of "$H5")
echo "$CLIENT_MAC,$DHCP_FIXED" >"$WORK/dhcp-hosts"
cat >"$WORK/udhcpc.script" <<'EOF'
#!/bin/sh
[ "$1" = bound ] && echo "$ip" >"$LEASE_FILE"
exit 0
EOF
chmod +x "$WORK/udhcpc.script"
log "phase dhcp"
start_capture dhcp
ip netns exec "$H4" dnsmasq --keep-in-foreground --port=0 --conf-file=/dev/null --no-hosts --user=root --group=root \
  --bind-interfaces --interface="$IF" --dhcp-range="$DHCP_FIRST,$DHCP_LAST,12h" \
  --dhcp-hostsfile="$WORK/dhcp-hosts" --dhcp-leasefile="$WORK/dnsmasq.leases" \
  --pid-file="$WORK/dnsmasq.pid" --log-facility="$WORK/dnsmasq.log" --log-dhcp \
  >"$WORK/dnsmasq-stdio.log" 2>&1 &
DNSMASQ_PID=$!
PIDS+=("$DNSMASQ_PID")
wait_for_line "$WORK/dnsmasq.log" 'DHCP, IP range' 50
LEASE_FILE="$WORK/lease" inns "$H5" udhcpc -i "$IF" -n -q -f -t 3 -T 1 -x "hostname:$DHCP_NAME" \
  -s "$WORK/udhcpc.script" >"$WORK/udhcpc.log" 2>&1
LEASE=$(cat "$WORK/lease")
fail_point dhcp
stop_capture
stop_pid "$DNSMASQ_PID"
forget_pid "$DNSMASQ_PID"

# --- Manifest --------------------------------------------------------------------------------------
MACS=()
for ns in "${HOSTS[@]}"; do
  mac=$(mac_of "$ns")
  [[ -n $mac ]] || {
    log "no MAC for $ns"
    false
  }
  MACS+=("$mac")
done
ELAPSED_MS=$((($(date +%s%N) - START) / 1000000))
# Node is there anyway (the project is TypeScript); the values come in through the environment.
MANIFEST=$(
  M_PREFIX=$PREFIX M_ELAPSED=$ELAPSED_MS M_IF=$IF M_NS="${HOSTS[*]}" M_MACS="${MACS[*]}" \
    M_DAD=$DAD_IP M_MDNS_NAME=$MDNS_NAME M_DHCP_NAME=$DHCP_NAME M_LEASE=$LEASE \
    M_FAKE="$FAKE_IP $FAKE_MAC" M_GRAT="$GRAT_IP $GRAT_MAC" M_GRAT_REPLY="$GRAT_REPLY_IP $GRAT_REPLY_MAC" \
    M_RANGE="$DHCP_FIRST $DHCP_LAST" node -e '
      const e = process.env;
      const ns = e.M_NS.split(" ");
      const macs = e.M_MACS.split(" ");
      const host = (i, role, more) => ({ ns: ns[i], role, ifname: e.M_IF, mac: macs[i], ...more });
      const pair = (v) => v.split(" ");
      const [fakeIp, fakeMac] = pair(e.M_FAKE);
      const [gratIp, gratMac] = pair(e.M_GRAT);
      const [gratReplyIp, gratReplyMac] = pair(e.M_GRAT_REPLY);
      const [first, last] = pair(e.M_RANGE);
      const manifest = {
        prefix: e.M_PREFIX,
        elapsedMs: Number(e.M_ELAPSED),
        files: { arp: "arp.pcap", ndp: "ndp.pcap", mdns: "mdns.pcap", dhcp: "dhcp.pcap" },
        hosts: {
          pinger: host(0, "pings h2; sends the fake ARP", { ipv4: "10.99.0.1", ipv6: "fd99::1" }),
          pinged: host(1, "answers pings; DAD-probes dadProbe", { ipv4: "10.99.0.2", ipv6: "fd99::2", dadProbe: e.M_DAD }),
          mdns: host(2, "avahi-daemon", { ipv4: "10.99.0.3", ipv6: "fd99::3", hostname: e.M_MDNS_NAME }),
          dhcpServer: host(3, "dnsmasq DHCP server", { ipv4: "10.99.0.4" }),
          dhcpClient: host(4, "udhcpc DHCP client", { hostname: e.M_DHCP_NAME, lease: e.M_LEASE }),
        },
        fakes: [
          { ip: fakeIp, mac: fakeMac, how: "arping -S -s: request to h2, which replies" },
          { ip: gratIp, mac: gratMac, how: "arping -U: gratuitous request", gratuitous: "request" },
          { ip: gratReplyIp, mac: gratReplyMac, how: "arping -U -P: gratuitous reply", gratuitous: "reply" },
        ],
        dhcpRange: { first, last },
      };
      console.log(JSON.stringify(manifest, null, 2));
    '
)

mkdir -p "$OUTDIR"
for name in arp ndp mdns dhcp; do
  mv "$WORK/$name.pcap" "$OUTDIR/$name.pcap"
  chown --reference="$OUTDIR" "$OUTDIR/$name.pcap" # tcpdump wrote it as its own user
done
echo "$MANIFEST" >"$OUTDIR/manifest.json"
FAILED=0
echo "$MANIFEST"
