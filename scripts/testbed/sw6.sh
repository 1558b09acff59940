#!/usr/bin/env bash
# A strongSwan 6.0.6 gateway with ML-KEM (the `ml` plugin) in an existing test bed, for the
# post-quantum interop tests (test/interop/pq.test.ts). It runs from its own prefix
# /opt/strongswan6 (../shared/interop/strongswan-6.0.6-ml.tar.xz, extracted here when missing),
# with its own strongswan.conf, vici socket, log and a private /run (mount namespace) in the
# gateway namespace, in place of the bed's strongSwan 5.9.8 daemon (which it stops: both would
# want UDP 500/4500 there). The system strongSwan is never touched.
#
# Usage: [TB6_IKE=...] [TB6_ESP=...] [TB6_REKEY_CHILD=5s TB6_LIFE_CHILD=30s TB6_RAND_CHILD=1s]
#        [TB6_REKEY_IKE=10s TB6_OVER_IKE=30s]
#        sw6.sh --prefix P start|stop
#   exit 3 when strongSwan 6 is not available (the tests then skip, saying why).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SW6=${TB_SW6_PREFIX:-/opt/strongswan6}
ROOT=$(cd "$TB_DIR/../.." && pwd)
ARCHIVE=${TB_SW6_ARCHIVE:-$ROOT/../shared/interop/strongswan-6.0.6-ml.tar.xz}
DIR=$STATE/gw6

stop6() {
  [ -f "$DIR/charon.pid" ] || return 0
  local pid
  pid=$(cat "$DIR/charon.pid")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # A stale socket would pass for the next daemon's before it is listening.
  rm -f "$DIR/charon.pid" "$DIR/charon.vici"
}

case "${ARGS[0]:-}" in
  stop)
    stop6
    exit 0
    ;;
  start) ;;
  *)
    echo "usage: sw6.sh --prefix P start|stop" >&2
    exit 2
    ;;
esac

if [ ! -x "$SW6/libexec/ipsec/charon" ] && [ -f "$ARCHIVE" ] && [ "$SW6" = /opt/strongswan6 ]; then
  tar -C / -xJf "$ARCHIVE"
fi
if [ ! -x "$SW6/libexec/ipsec/charon" ] || [ ! -x "$SW6/sbin/swanctl" ]; then
  echo "strongSwan 6 not available: no $SW6/libexec/ipsec/charon and no archive at $ARCHIVE" >&2
  exit 3
fi
[ -f "$STATE/gw/charon.pid" ] || { echo "sw6.sh: no test bed $PREFIX (run up.sh first)" >&2; exit 2; }

# The bed's 5.9.8 gateway leaves the ports to us.
pid=$(cat "$STATE/gw/charon.pid")
if kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
stop6
mkdir -p "$DIR"

cat > "$DIR/strongswan.conf" <<CONF
charon {
  install_routes = yes
  retransmit_tries = 3
  filelog {
    gw6 {
      path = $DIR/charon.log
      time_format = %b %e %T
      default = 1
      ike = 2
      cfg = 2
      append = no
      flush_line = yes
    }
  }
  plugins {
    vici {
      socket = unix://$DIR/charon.vici
    }
    kernel-libipsec {
      allow_peer_ts = yes
    }
  }
}
swanctl {
  socket = unix://$DIR/charon.vici
}
CONF

cat > "$DIR/swanctl.conf" <<CONF
connections {
  pq {
    version = 2
    local_addrs = $GW_ADDR
    pools = pool4
    proposals = ${TB6_IKE:-aes256gcm16-prfsha384-x25519-ke1_mlkem768, aes256gcm16-prfsha384-x25519-ke1_mlkem1024}
    fragmentation = yes
    dpd_delay = 30s
    rekey_time = ${TB6_REKEY_IKE:-4h}
    over_time = ${TB6_OVER_IKE:-10m}
    local {
      auth = psk
      id = gw.test
    }
    remote {
      auth = psk
      id = %any
    }
    children {
      net {
        local_ts = 203.0.113.0/25
        esp_proposals = ${TB6_ESP:-aes256gcm16-x25519-ke1_mlkem768, aes256gcm16}
        dpd_action = clear
        rekey_time = ${TB6_REKEY_CHILD:-1h}
        life_time = ${TB6_LIFE_CHILD:-66m}
        rand_time = ${TB6_RAND_CHILD:-6m}
      }
    }
  }
}
pools {
  pool4 {
    addrs = $POOL
    dns = 203.0.113.53
  }
}
secrets {
  ike-client {
    id-gw = gw.test
    id-client = client@test
    secret = "$TEST_PSK"
  }
}
CONF

ip netns exec "$NS_GW" unshare -m --propagation private sh -c \
  "mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=$DIR/strongswan.conf exec $SW6/libexec/ipsec/charon" \
  > "$DIR/charon.out" 2>&1 &
echo $! > "$DIR/charon.pid"
for _ in $(seq 1 100); do
  [ -S "$DIR/charon.vici" ] && break
  if ! kill -0 "$(cat "$DIR/charon.pid")" 2>/dev/null; then
    echo "sw6.sh: charon exited; see $DIR/charon.out and charon.log" >&2
    cat "$DIR/charon.out" >&2 || true
    exit 1
  fi
  sleep 0.05
done
STRONGSWAN_CONF=$DIR/strongswan.conf "$SW6/sbin/swanctl" --load-all --noprompt \
  --uri "unix://$DIR/charon.vici" --file "$DIR/swanctl.conf" > "$DIR/load.out" 2>&1
echo "strongSwan 6 gateway up in $NS_GW (pid $(cat "$DIR/charon.pid")), log $DIR/charon.log"
