#!/usr/bin/env bash
# A second uplink for the client, for roaming (MOBIKE) tests:
#   P-cli c1 192.0.2.130/25 ── 192.0.2.129/25 n2 P-nat, SNAT to a second public address 198.51.100.2
# `roam.sh [--prefix P] add` creates it; `move` moves the client's default route to it and takes
# the first uplink down (a laptop leaving one network for another); `del` removes it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
C1="${PREFIX:0:8}c1"
N2="${PREFIX:0:8}n2"
case "${ARGS[0]:?usage: roam.sh [--prefix P] add|move|del}" in
  add)
    ip link add "$C1" netns "$NS_CLI" type veth peer name "$N2" netns "$NS_NAT"
    ip -n "$NS_CLI" addr add 192.0.2.130/25 dev "$C1"
    ip -n "$NS_NAT" addr add 192.0.2.129/25 dev "$N2"
    ip -n "$NS_NAT" addr add 198.51.100.2/24 dev "${PREFIX:0:8}n1"
    ip -n "$NS_CLI" link set "$C1" up
    ip -n "$NS_NAT" link set "$N2" up
    ip netns exec "$NS_NAT" iptables -t nat -I POSTROUTING -s 192.0.2.128/25 -o "${PREFIX:0:8}n1" -j SNAT --to-source 198.51.100.2
    ;;
  move)
    ip -n "$NS_CLI" route replace default via 192.0.2.129 dev "$C1"
    ip -n "$NS_CLI" link set "${PREFIX:0:8}c0" down
    ;;
  del)
    ip -n "$NS_CLI" link del "$C1" 2>/dev/null || true
    ip netns exec "$NS_NAT" iptables -t nat -D POSTROUTING -s 192.0.2.128/25 -o "${PREFIX:0:8}n1" -j SNAT --to-source 198.51.100.2 2>/dev/null || true
    ip -n "$NS_NAT" addr del 198.51.100.2/24 dev "${PREFIX:0:8}n1" 2>/dev/null || true
    ;;
esac
