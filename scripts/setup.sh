#!/usr/bin/env bash
# Installs everything ipwarden needs on a fresh Debian 12 machine with Node 20, as root:
# the Debian packages (build, lab and test tools), pnpm, and the JavaScript dependencies.
# Idempotent: whatever is already present is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.21.0

# Build: libpcap-dev. Lab and oracles: tcpdump, tshark, arpwatch, dnsmasq, udhcpc, arping,
# avahi-daemon, iproute2, iputils-ping. postgresql (test server, Kea hosts database), kea-dhcp4-server
# and kea-admin (its hosts database schema): the kea DHCP backend.
# time: peak memory in the benchmarks. openssl: certificates for the TLS tests. systemd:
# systemd-analyze, which checks the units in deploy/systemd. chromium and fonts-dejavu-core: the
# dashboard's browser tests (Playwright drives Debian's Chromium). prometheus: promtool, which
# checks the alerting rules in deploy/prometheus.
DEBIAN_PACKAGES=(
  libpcap-dev tcpdump tshark arpwatch dnsmasq udhcpc arping avahi-daemon
  iproute2 iputils-ping postgresql kea-dhcp4-server kea-admin time openssl systemd
  chromium fonts-dejavu-core prometheus
)
# Servers among them that the tests start themselves (inside network namespaces), or never.
DEBIAN_SERVICES=(avahi-daemon dnsmasq postgresql kea-dhcp4-server prometheus)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done

POLICY=/usr/sbin/policy-rc.d
POLICY_MARK='# ipwarden setup.sh: no service starts during install'

# A policy file this script left behind (it was killed mid-install) is removed first.
if [ -f "$POLICY" ] && grep -qF "$POLICY_MARK" "$POLICY"; then rm -f "$POLICY"; fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: installing Debian packages needs root" >&2
    exit 1
  fi
  # Package scripts would start avahi-daemon, dnsmasq, postgresql and kea in the main network
  # namespace; policy-rc.d exit 101 forbids it (the tests start their own, inside namespaces).
  # The traps come first, so that the file goes even if this script is interrupted.
  if [ ! -e "$POLICY" ]; then
    trap 'rm -f "$POLICY"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM HUP
    printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_MARK" >"$POLICY"
    chmod 755 "$POLICY"
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  # Nor should the ones installed now start at the next boot, where systemd runs.
  if [ -d /run/systemd/system ]; then
    for service in "${DEBIAN_SERVICES[@]}"; do
      if [[ " ${missing[*]} " == *" $service "* ]]; then
        systemctl disable --now "$service" >/dev/null 2>&1 || true
      fi
    done
  fi
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm $PNPM_VERSION" >&2
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null
fi

# pnpm's node-gyp would download Node headers (no network here); Debian's nodejs ships them.
if [ -d /usr/include/node ]; then export npm_config_nodedir=/usr; fi
pnpm install --frozen-lockfile
