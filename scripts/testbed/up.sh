#!/usr/bin/env bash
# Creates the test bed: four network namespaces, a NAT router and a strongSwan gateway.
# Usage: [TB_ESP=aes256gcm16-x25519] [TB_PSK_TS=0.0.0.0/0] [TB_REKEY_IKE=30s TB_OVER_IKE=30s TB_REAUTH_IKE=20s] [TB_RETRANSMIT_TIMEOUT=1 TB_RETRANSMIT_BASE=1.4] [TB_REKEY_CHILD=10s TB_LIFE_CHILD=30s TB_RAND_CHILD=2s] up.sh [--prefix P]. Idempotent: tears down a previous bed of the same prefix.
# The test PSK is written to /tmp/P/psk (mode 600).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ikev1-conf.sh"

bash "$TB_DIR/down.sh" --prefix "$PREFIX" >/dev/null 2>&1 || true
mkdir -p "$STATE/gw"
chmod 700 "$STATE"
printf '%s\n' "$TEST_PSK" > "$STATE/psk"
chmod 600 "$STATE/psk"
# Certificates (made once, kept between beds: RSA-4096 keys take seconds)
PKI=${TB_PKI_DIR:-/tmp/ikev2-vpn-testbed-pki}
bash "$TB_DIR/pki.sh" "$PKI"
# swanctl --file loads private keys from the folder next to the file
mkdir -p "$STATE/gw/private"
cp "$PKI"/gw-*.key "$STATE/gw/private/"

for ns in "$NS_CLI" "$NS_NAT" "$NS_GW" "$NS_LAN"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  # No duplicate address detection: addresses are final at once, so snapshots are stable.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  mkdir -p "/etc/netns/$ns"
  echo "nameserver 192.0.2.53" > "/etc/netns/$ns/resolv.conf"
done

# veth pairs (short names: interface names are limited to 15 characters)
ip link add "${PREFIX:0:8}c0" netns "$NS_CLI" type veth peer name "${PREFIX:0:8}n0" netns "$NS_NAT"
ip link add "${PREFIX:0:8}n1" netns "$NS_NAT" type veth peer name "${PREFIX:0:8}g0" netns "$NS_GW"
ip link add "${PREFIX:0:8}g1" netns "$NS_GW" type veth peer name "${PREFIX:0:8}l0" netns "$NS_LAN"

ip -n "$NS_CLI" addr add 192.0.2.2/25 dev "${PREFIX:0:8}c0"
ip -n "$NS_CLI" link set "${PREFIX:0:8}c0" up
ip -n "$NS_CLI" route add default via 192.0.2.1

ip -n "$NS_NAT" addr add 192.0.2.1/25 dev "${PREFIX:0:8}n0"
ip -n "$NS_NAT" addr add 198.51.100.1/24 dev "${PREFIX:0:8}n1"
ip -n "$NS_NAT" link set "${PREFIX:0:8}n0" up
ip -n "$NS_NAT" link set "${PREFIX:0:8}n1" up
ip netns exec "$NS_NAT" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$NS_NAT" iptables -t nat -A POSTROUTING -s 192.0.2.0/24 -o "${PREFIX:0:8}n1" -j MASQUERADE

ip -n "$NS_GW" addr add "$GW_ADDR/24" dev "${PREFIX:0:8}g0"
ip -n "$NS_GW" addr add 203.0.113.1/25 dev "${PREFIX:0:8}g1"
ip -n "$NS_GW" link set "${PREFIX:0:8}g0" up
ip -n "$NS_GW" link set "${PREFIX:0:8}g1" up
ip netns exec "$NS_GW" sysctl -qw net.ipv4.ip_forward=1
# No route back to 192.0.2.0/24: the gateway only ever sees the NAT's address.

ip -n "$NS_LAN" addr add "$LAN_HOST/25" dev "${PREFIX:0:8}l0"
ip -n "$NS_LAN" link set "${PREFIX:0:8}l0" up
ip -n "$NS_LAN" route add 203.0.113.128/25 via 203.0.113.1

# Wait until no address is tentative anywhere (link-local addresses appear asynchronously).
for _ in $(seq 1 50); do
  pending=0
  for ns in "$NS_CLI" "$NS_NAT" "$NS_GW" "$NS_LAN"; do
    [ -n "$(ip -n "$ns" -6 addr show tentative)" ] && pending=1
  done
  [ $pending = 0 ] && break
  sleep 0.1
done

# strongSwan gateway configuration
cat > "$STATE/gw/strongswan.conf" <<CONF
charon {
  load = random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey sha1 sha2 hmac gcm aes kdf kernel-libipsec kernel-netlink socket-default vici updown attr eap-identity eap-mschapv2 eap-md5 eap-tls xauth-generic unity
  install_routes = yes
  retransmit_tries = 3
  # IKEv1 (ikev1-conf.sh): Cisco Unity attributes, and Aggressive Mode PSK for the v1aggr case.
  cisco_unity = yes
  i_dont_care_about_security_and_use_aggressive_mode_psk = yes
  retransmit_timeout = ${TB_RETRANSMIT_TIMEOUT:-4}
  retransmit_base = ${TB_RETRANSMIT_BASE:-1.8}
  filelog {
    gw {
      path = $STATE/gw/charon.log
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
      socket = unix://$STATE/gw/charon.vici
    }
    kernel-libipsec {
      allow_peer_ts = yes
    }
  }
}
CONF

# cert_conn NAME LOCAL_ID GW_CERT REMOTE_AUTH [EXTRA_REMOTE_LINES]: a connection whose gateway
# authenticates with GW_CERT (from $PKI) and whose client authenticates with REMOTE_AUTH.
cert_conn() {
  cat <<C
  $1 {
    version = 2
    local_addrs = $GW_ADDR
    pools = pool4
    proposals = aes256gcm16-aes128gcm16-chacha20poly1305-prfsha256-prfsha384-x25519-ecp256-ecp384-modp2048
    fragmentation = yes
    send_cert = always
    send_certreq = yes
    local {
      auth = pubkey
      certs = $PKI/$3.crt
      id = $2
    }
    remote {
      auth = $4
      id = %any
      ${5:-}
    }
    children {
      net {
        local_ts = 203.0.113.0/25
        esp_proposals = aes256gcm16-aes128gcm16-chacha20poly1305
        dpd_action = clear
      }
    }
  }
C
}

cat > "$STATE/gw/swanctl.conf" <<CONF
connections {
$(cert_conn rsa rsa.gw.test gw-rsa pubkey)
$(cert_conn ecdsa ecdsa.gw.test gw-ecdsa pubkey)
$(cert_conn frag frag.gw.test gw-frag pubkey)
$(cert_conn mschap mschap.gw.test gw-eap eap-mschapv2 'eap_id = %any')
$(cert_conn md5 md5.gw.test gw-eap eap-md5 'eap_id = %any')
$(cert_conn tls tls.gw.test gw-eap eap-tls 'eap_id = %any')
$(cert_conn expired expired.gw.test gw-expired pubkey)
$(cert_conn wrongname wrongname.gw.test gw-wrongname pubkey)
$(cert_conn evil evil.gw.test gw-evil pubkey)
$(v1_conns)
  psk {
    version = 2
    local_addrs = $GW_ADDR
    pools = pool4
    proposals = aes256gcm16-aes128gcm16-chacha20poly1305-prfsha256-prfsha384-x25519-ecp256-ecp384-modp2048
    fragmentation = yes
    mobike = yes
    dpd_delay = 30s
    rekey_time = ${TB_REKEY_IKE:-4h}
    over_time = ${TB_OVER_IKE:-10m}
    reauth_time = ${TB_REAUTH_IKE:-0}
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
        local_ts = ${TB_PSK_TS:-203.0.113.0/25}
        esp_proposals = ${TB_ESP:-aes256gcm16-aes128gcm16-chacha20poly1305}
        dpd_action = clear
        rekey_time = ${TB_REKEY_CHILD:-1h}
        life_time = ${TB_LIFE_CHILD:-66m}
        rand_time = ${TB_RAND_CHILD:-6m}
      }
    }
  }
}
pools {
  pool4 {
    addrs = $POOL
    dns = 203.0.113.53
  }
$(v1_pools)
}
authorities {
  root {
    cacert = $PKI/ca.crt
  }
  intermediate {
    cacert = $PKI/im.crt
  }
}
secrets {
  eap-carol {
    id = carol
    secret = "carol's EAP password"
  }
  ike-client {
    id-gw = gw.test
    id-client = client@test
    secret = "$TEST_PSK"
  }
$(v1_secrets)
}
CONF

start_charon "$NS_GW" "$STATE/gw"
echo "testbed $PREFIX up: gateway $GW_ADDR (pid $(cat "$STATE/gw/charon.pid")), LAN host $LAN_HOST, state in $STATE"
