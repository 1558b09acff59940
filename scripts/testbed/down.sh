#!/usr/bin/env bash
# Tears down a test bed: stops every daemon it started (by recorded PID), deletes its namespaces,
# their /etc/netns entries and the state directory. Safe to run on a half-built bed.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
for pidfile in "$STATE"/*/charon.pid "$STATE"/*.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  fi
done
for ns in "$NS_CLI" "$NS_NAT" "$NS_GW" "$NS_LAN" "$PREFIX-gw2"; do
  ip netns del "$ns" 2>/dev/null
  rm -rf "/etc/netns/$ns"
done
rm -rf "$STATE"
exit 0
