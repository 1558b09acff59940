#!/usr/bin/env bash
# Shared settings of the test bed scripts. Source it; pass --prefix P to name the namespaces.
#
#   P-cli  192.0.2.2/24 ── 192.0.2.1/24  P-nat  198.51.100.1/24 ── 198.51.100.10/24  P-gw  203.0.113.1/25 ── 203.0.113.10/25  P-lan
#   (client)                       (NAT router, MASQUERADE)              (strongSwan responder,         (LAN host)
#                                                                         kernel-libipsec, pool 203.0.113.128/26)
PREFIX=vpntb
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=$2; shift 2 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
TB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${TB_STATE_DIR:-/tmp/$PREFIX}
NS_CLI=$PREFIX-cli
NS_NAT=$PREFIX-nat
NS_GW=$PREFIX-gw
NS_LAN=$PREFIX-lan
GW_ADDR=198.51.100.10
LAN_HOST=203.0.113.10
POOL=203.0.113.128/26
TEST_PSK='interop test psk: not a secret'
