#!/usr/bin/env bash
# Installs everything ipwarden needs on a fresh Debian 12 machine with Node 20, as root:
# the Debian packages (build, lab and test tools), pnpm, and the JavaScript dependencies.
# Idempotent: whatever is already present is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: libpcap-dev. Lab and oracles: tcpdump, tshark, arpwatch, dnsmasq, udhcpc, arping,
# avahi-daemon, iproute2, iputils-ping. Later: postgresql (test server), kea (DHCP backend).
DEBIAN_PACKAGES=(
  libpcap-dev tcpdump tshark arpwatch dnsmasq udhcpc arping avahi-daemon
  iproute2 iputils-ping postgresql kea-dhcp4-server time
)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: installing Debian packages needs root" >&2
    exit 1
  fi
  # Package scripts would start avahi-daemon, dnsmasq, postgresql and kea in the main network
  # namespace; policy-rc.d exit 101 forbids it. The tests start their own, inside namespaces.
  policy=/usr/sbin/policy-rc.d
  had_policy=0
  [ -e "$policy" ] && had_policy=1
  if [ $had_policy -eq 0 ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v pnpm >/dev/null 2>&1; then
  echo "setup: installing pnpm" >&2
  npm install -g pnpm@12.21.0 >/dev/null
fi

# pnpm's node-gyp would download Node headers (no network here); Debian's nodejs ships them.
if [ -d /usr/include/node ]; then export npm_config_nodedir=/usr; fi
pnpm install --frozen-lockfile
