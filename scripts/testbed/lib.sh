#!/usr/bin/env bash
# Shared settings of the test bed scripts. Source it; pass --prefix P to name the namespaces.
#
#   P-cli  192.0.2.2/25 ── 192.0.2.1/25  P-nat  198.51.100.1/24 ── 198.51.100.10/24  P-gw  203.0.113.1/25 ── 203.0.113.10/25  P-lan
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

# start_charon NS DIR: runs charon in namespace NS with DIR/strongswan.conf, in its own mount
# namespace with a private /run (pid file, default sockets), records DIR/charon.pid and waits for
# the vici socket DIR/charon.vici; then loads DIR/swanctl.conf.
start_charon() {
  local ns=$1 dir=$2
  ip netns exec "$ns" unshare -m --propagation private sh -c \
    "mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=$dir/strongswan.conf exec /usr/lib/ipsec/charon" \
    > "$dir/charon.out" 2>&1 &
  echo $! > "$dir/charon.pid"
  for _ in $(seq 1 100); do
    [ -S "$dir/charon.vici" ] && break
    if ! kill -0 "$(cat "$dir/charon.pid")" 2>/dev/null; then
      echo "testbed: charon exited; see $dir/charon.out and charon.log" >&2
      cat "$dir/charon.out" >&2 || true
      return 1
    fi
    sleep 0.05
  done
  swanctl --load-all --noprompt --uri "unix://$dir/charon.vici" --file "$dir/swanctl.conf" > "$dir/load.out"
}
