#!/usr/bin/env bash
# strongSwan's own client in the client namespace, for comparison and benchmarks: a second charon
# (kernel-libipsec, i.e. strongSwan's userspace ESP) with a PSK connection to the gateway.
# Usage: sw-client.sh [--prefix P] start|up|down|stop
#   start: start charon (warm, no connection)   up: initiate (starts charon if needed)
#   down:  terminate the connection             stop: terminate and stop charon
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CMD=${ARGS[0]:-up}
D=$STATE/swc
URI=unix://$D/charon.vici

start() {
  if [ -f "$D/charon.pid" ] && kill -0 "$(cat "$D/charon.pid")" 2>/dev/null; then return; fi
  mkdir -p "$D"
  cat > "$D/strongswan.conf" <<CONF
charon {
  load = random nonce openssl pem pkcs1 pkcs8 x509 pubkey sha1 sha2 hmac gcm aes kdf kernel-libipsec kernel-netlink socket-default vici updown resolve
  install_virtual_ip = yes
  filelog {
    swc {
      path = $D/charon.log
      time_format = %b %e %T
      default = 1
      append = no
      flush_line = yes
    }
  }
  plugins {
    vici {
      socket = $URI
    }
    resolve {
      file = $D/resolv.conf
    }
  }
}
CONF
  cat > "$D/swanctl.conf" <<CONF
connections {
  gw {
    version = 2
    remote_addrs = $GW_ADDR
    vips = 0.0.0.0
    proposals = aes256gcm16-prfsha256-x25519
    encap = yes
    local {
      auth = psk
      id = client@test
    }
    remote {
      auth = psk
      id = gw.test
    }
    children {
      net {
        remote_ts = 203.0.113.0/25
        esp_proposals = aes256gcm16
      }
    }
  }
}
secrets {
  ike-gw {
    id-gw = gw.test
    id-client = client@test
    secret = "$TEST_PSK"
  }
}
CONF
  start_charon "$NS_CLI" "$D"
}

stop() {
  if [ -f "$D/charon.pid" ]; then
    pid=$(cat "$D/charon.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$D/charon.pid"
  fi
}

case "$CMD" in
  start) start ;;
  up)
    start
    swanctl --initiate --child net --timeout 20 --uri "$URI" > "$D/initiate.out"
    ;;
  down)
    swanctl --terminate --ike gw --timeout 10 --uri "$URI" > "$D/terminate.out" || true
    ;;
  stop)
    swanctl --terminate --ike gw --timeout 5 --uri "$URI" >/dev/null 2>&1 || true
    stop
    ;;
  *) echo "usage: sw-client.sh [--prefix P] start|up|down|stop" >&2; exit 2 ;;
esac
