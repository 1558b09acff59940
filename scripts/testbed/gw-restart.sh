#!/usr/bin/env bash
# Restarts the test bed's gateway (stop by PID, start again with the same configuration), the way
# an administrator's `systemctl restart strongswan` would. Usage: gw-restart.sh [--prefix P] [--kill]
# (--kill: SIGKILL, so the gateway sends no DELETE, as after a crash or power loss).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
sig=TERM
[ "${ARGS[0]:-}" = "--kill" ] && sig=KILL
pid=$(cat "$STATE/gw/charon.pid")
kill -s "$sig" "$pid" 2>/dev/null || true
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
rm -f "$STATE/gw/charon.vici"
start_charon "$NS_GW" "$STATE/gw"
