#!/usr/bin/env bash
# Runs swanctl against the test bed's gateway, e.g. `gw.sh --prefix P --list-sas`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
exec swanctl "${ARGS[@]}" --uri "unix://$STATE/gw/charon.vici"
