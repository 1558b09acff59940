#!/usr/bin/env bash
# One command for a fresh machine: install, build, start the demo gateway (strongSwan in network
# namespaces behind a NAT router), connect with `vpn connect`, show it working, tear it all down.
# Nothing outside the namespaces this script creates is touched. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "demo: run as root (it creates network namespaces and a TUN device)" >&2; exit 1; fi

P=${DEMO_PREFIX:-vpndemo}
bash scripts/testbed/install-deps.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent

cleanup() {
  if [ -n "${VPN_PID:-}" ] && kill -0 "$VPN_PID" 2>/dev/null; then kill "$VPN_PID"; wait "$VPN_PID" || true; fi
  bash scripts/testbed/down.sh --prefix "$P" >/dev/null 2>&1 || true
  rm -rf "$STATE"
}
STATE=$(mktemp -d)
trap cleanup EXIT

echo "== starting the demo gateway (strongSwan, kernel-libipsec) behind a NAT router"
bash scripts/testbed/up.sh --prefix "$P"
install -m 600 "/tmp/$P/psk" "$STATE/psk"   # the test bed's demo PSK

in_cli() { ip netns exec "$P-cli" "$@"; }
export VPN_RUNTIME_DIR="$STATE/run"

echo "== vpn connect 198.51.100.10 (inside namespace $P-cli)"
in_cli node bin/vpn.js connect 198.51.100.10 --id client@test --remote-id @gw.test \
  --psk-file "$STATE/psk" &
VPN_PID=$!
for _ in $(seq 1 60); do
  if in_cli node bin/vpn.js status >/dev/null 2>&1 && in_cli node bin/vpn.js status --json | grep -q '"state":"up"'; then break; fi
  sleep 0.5
done
echo
echo "== ping the LAN host behind the gateway through the tunnel"
in_cli ping -c 3 203.0.113.10
echo
echo "== vpn status"
in_cli node bin/vpn.js status
echo
echo "== vpn disconnect"
in_cli node bin/vpn.js disconnect
wait "$VPN_PID" || true
VPN_PID=
echo "demo finished; tearing down the test bed"
