#!/usr/bin/env bash
# Captures a real IKEv2 handshake between strongSwan's client and the strongSwan gateway in the test
# bed and stores the raw IKE messages (non-ESP marker stripped) in test/vectors/captures/.
# Usage: capture-ike.sh [--prefix P]   (brings a test bed up and down itself)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
OUT=$(cd "$TB_DIR/../.." && pwd)/test/vectors/captures
mkdir -p "$OUT"
trap 'bash "$TB_DIR/sw-client.sh" --prefix "$PREFIX" stop >/dev/null 2>&1 || true; [ -n "${TCPDUMP:-}" ] && kill "$TCPDUMP" 2>/dev/null; bash "$TB_DIR/down.sh" --prefix "$PREFIX" >/dev/null 2>&1' EXIT
bash "$TB_DIR/up.sh" --prefix "$PREFIX"
ip netns exec "$NS_GW" tcpdump --immediate-mode -i "${PREFIX:0:8}g0" -U -s 0 -w "$STATE/ike.pcap" 'udp port 500 or udp port 4500' 2>"$STATE/tcpdump.err" &
TCPDUMP=$!
sleep 1
bash "$TB_DIR/sw-client.sh" --prefix "$PREFIX" up
sleep 1.5
kill "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true
TCPDUMP=
python3 "$TB_DIR/pcap-ike.py" "$STATE/ike.pcap" "$OUT"
dpkg-query -W -f='strongSwan package: ${Package} ${Version}\n' strongswan-charon > "$OUT/strongswan-version.txt"
ls -l "$OUT"
