#!/usr/bin/env bash
# Captures real IKEv1 exchanges between strongSwan's IKEv1 initiator (sw1-client.sh, charon log at
# level 4: IVs, plaintexts and phase 1 keys) and the test bed's gateway, one case at a time, and
# writes test/fixtures/ikev1/CASE.json (pcap-ikev1.py): every message as on the wire and, for the
# encrypted ones, the decrypted payload chain. Each conversation: Main (or Aggressive) Mode,
# XAUTH and Mode Config transactions, Quick Mode, then the initiator's DELETEs.
# Usage: capture-ikev1.sh [--prefix P] [CASE...]   (brings a test bed up and down itself)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
OUT=$(cd "$TB_DIR/../.." && pwd)/test/fixtures/ikev1
CASES=("${ARGS[@]}")
[ ${#CASES[@]} -eq 0 ] && CASES=(v1psk v1pfs v1aggr v1xauth v1rsa v1ecdsa)
mkdir -p "$OUT"
TCPDUMP=
trap 'bash "$TB_DIR/sw1-client.sh" --prefix "$PREFIX" stop >/dev/null 2>&1 || true; [ -n "$TCPDUMP" ] && kill "$TCPDUMP" 2>/dev/null; bash "$TB_DIR/down.sh" --prefix "$PREFIX" >/dev/null 2>&1' EXIT
bash "$TB_DIR/up.sh" --prefix "$PREFIX" >/dev/null
VERSION=$(dpkg-query -W -f='${Package} ${Version}' strongswan-charon)
for c in "${CASES[@]}"; do
  bash "$TB_DIR/sw1-client.sh" --prefix "$PREFIX" stop
  ip netns exec "$NS_GW" tcpdump --immediate-mode -i "${PREFIX:0:8}g0" -U -s 0 -w "$STATE/$c.pcap" \
    'udp port 500 or udp port 4500' 2>"$STATE/tcpdump.err" &
  TCPDUMP=$!
  sleep 1
  if ! SW1_DEBUG=1 bash "$TB_DIR/sw1-client.sh" --prefix "$PREFIX" up "$c" >/dev/null 2>&1; then
    grep -v '^\[\(ENC\|LIB\|ASN\|KNL\|NET\|JOB\)\]' "$STATE/sw1/initiate-$c.out" >&2 || true
    exit 1
  fi
  bash "$TB_DIR/sw1-client.sh" --prefix "$PREFIX" down "$c"
  sleep 1
  kill "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true
  TCPDUMP=
  python3 "$TB_DIR/pcap-ikev1.py" "$STATE/$c.pcap" "$STATE/sw1/charon.log" "$c" "$OUT/$c.json" "$VERSION"
done
# The repository's format check (.ci/run: prettier --check .) covers these files.
(cd "$TB_DIR/../.." && npx prettier --write "$OUT"/*.json >/dev/null 2>&1) || echo "capture-ikev1: run prettier --write on $OUT" >&2
