#!/usr/bin/env bash
# Drops PERCENT % of the client's IKE/NAT-T packets towards the gateway (UDP to 500/4500) at random
# in the NAT router, like a lossy uplink (this kernel has no netem); `--both` also drops the replies.
# `loss.sh [--prefix P] 0` removes it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PCT=${ARGS[0]:?usage: loss.sh [--prefix P] PERCENT [--both]}
REPLIES=""
[ "${ARGS[1]:-}" = "--both" ] && REPLIES="udp sport { 500, 4500 } numgen random mod 100 < $PCT drop"
ip netns exec "$NS_NAT" nft delete table inet lossy 2>/dev/null || true
[ "$PCT" = 0 ] && exit 0
ip netns exec "$NS_NAT" nft -f - <<NFT
table inet lossy {
  chain forward {
    type filter hook forward priority 0; policy accept;
    udp dport { 500, 4500 } numgen random mod 100 < $PCT drop
    $REPLIES
  }
}
NFT
