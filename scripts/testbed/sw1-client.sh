#!/usr/bin/env bash
# strongSwan's own IKEv1 initiator in the client namespace (issue 17): a second charon
# (kernel-libipsec) with one connection per IKEv1 case of the gateway (ikev1-conf.sh), to check
# the gateway's IKEv1 side before our client speaks it, and to capture real exchanges.
# Usage: sw1-client.sh [--prefix P] start | up CASE | down CASE | list | stop
#   CASE: v1psk (PSK Main Mode), v1pfs (the same with PFS, ecp256), v1xauth (PSK + XAUTH alice +
#   Mode Config), v1aggr (PSK Aggressive Mode), v1rsa, v1ecdsa (certificates), v1legacy
#   (3DES/SHA1/MODP1024 phase 1). Every case pulls a virtual IP with Mode Config.
# Env: SW1_DEBUG=1 logs at level 4 (decrypted payloads and key material) to $STATE/sw1/charon.log.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ikev1-conf.sh"
CMD=${ARGS[0]:-up}
CASE=${ARGS[1]:-v1psk}
D=$STATE/sw1
URI=unix://$D/charon.vici
PKI=${TB_PKI_DIR:-/tmp/ikev2-vpn-testbed-pki}
LEVEL=1
[ "${SW1_DEBUG:-0}" = 1 ] && LEVEL=4

# conn NAME LOCAL_ID REMOTE_ID LOCAL_BLOCK REMOTE_AUTH IKE ESP [EXTRA]
conn() {
  cat <<C
  $1 {
    version = 1
    remote_addrs = $GW_ADDR
    vips = 0.0.0.0
    proposals = $6
    encap = yes
    local {
      id = $2
      $4
    }
    remote {
      id = $3
      auth = $5
    }
    ${8:-}
    children {
      net {
        remote_ts = 203.0.113.0/25
        esp_proposals = $7
      }
    }
  }
C
}

start() {
  if [ -f "$D/charon.pid" ] && kill -0 "$(cat "$D/charon.pid")" 2>/dev/null; then return; fi
  mkdir -p "$D/private" "$D/x509ca"
  # A socket left by a stopped charon would make start_charon load the config too early.
  rm -f "$D/charon.vici"
  cp "$PKI"/client-rsa.key "$PKI"/client-ecdsa.key "$D/private/"
  cp "$PKI"/ca.crt "$D/x509ca/"
  cat > "$D/strongswan.conf" <<CONF
charon {
  load = random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey sha1 sha2 hmac gcm aes kdf kernel-libipsec kernel-netlink socket-default vici updown resolve xauth-generic unity
  install_virtual_ip = yes
  cisco_unity = yes
  i_dont_care_about_security_and_use_aggressive_mode_psk = yes
  filelog {
    sw1 {
      path = $D/charon.log
      time_format = %b %e %T
      default = $LEVEL
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
  local P='auth = psk'
  cat > "$D/swanctl.conf" <<CONF
connections {
$(conn v1psk v1-psk@test v1.gw.test "$P" psk aes256-sha256-modp2048 aes256gcm16)
$(conn v1pfs v1-psk@test v1.gw.test "$P" psk aes128-sha1-ecp256 aes128gcm16-ecp256)
$(conn v1xauth v1-xauth@test v1.gw.test "$P" psk aes256-sha256-modp2048 aes256gcm16 "local-xauth {
      auth = xauth
      xauth_id = $V1_XAUTH_USER
    }")
$(conn v1aggr v1-aggr@test v1.gw.test "$P" psk aes256-sha256-modp2048 aes256gcm16 'aggressive = yes')
$(conn v1rsa client-rsa@test rsa.gw.test "auth = pubkey
      certs = $PKI/client-rsa.crt" pubkey aes256-sha256-modp2048 aes256gcm16)
$(conn v1ecdsa client-ecdsa@test ecdsa.gw.test "auth = pubkey
      certs = $PKI/client-ecdsa.crt" pubkey aes128-sha256-ecp256 aes128gcm16)
$(conn v1legacy v1-psk@test v1.gw.test "$P" psk 3des-sha1-modp1024 aes128gcm16)
}
secrets {
  ike-v1 {
    id-gw = v1.gw.test
    id-psk = v1-psk@test
    id-xauth = v1-xauth@test
    id-aggr = v1-aggr@test
    secret = "$TEST_PSK"
  }
  xauth-alice {
    id = $V1_XAUTH_USER
    secret = "$V1_XAUTH_PASSWORD"
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
    swanctl --initiate --ike "$CASE" --child net --timeout 20 --uri "$URI" > "$D/initiate-$CASE.out"
    ;;
  down)
    swanctl --terminate --ike "$CASE" --timeout 10 --uri "$URI" > "$D/terminate-$CASE.out" || true
    ;;
  list) swanctl --list-sas --uri "$URI" ;;
  stop) stop ;;
  *) echo "usage: sw1-client.sh [--prefix P] start|up CASE|down CASE|list|stop" >&2; exit 2 ;;
esac
