#!/usr/bin/env bash
# Drops PERCENT % of IKE/NAT-T packets (UDP 500/4500, both directions) at random in the NAT
# router, like a lossy Wi-Fi link (this kernel has no netem). `loss.sh [--prefix P] 0` removes it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PCT=${ARGS[0]:?usage: loss.sh [--prefix P] PERCENT}
ip netns exec "$NS_NAT" nft delete table inet lossy 2>/dev/null || true
[ "$PCT" = 0 ] && exit 0
ip netns exec "$NS_NAT" nft -f - <<NFT
table inet lossy {
  chain forward {
    type filter hook forward priority 0; policy accept;
    udp dport { 500, 4500 } numgen random mod 100 < $PCT drop
    udp sport { 500, 4500 } numgen random mod 100 < $PCT drop
  }
}
NFT
