#!/usr/bin/env bash
# Adds a second strongSwan gateway to a running test bed (up.sh), for RFC 5685 redirects:
#
#   P-nat  198.51.100.1 ── 198.51.100.20/24  P-gw2  203.0.113.250/30 ── 203.0.113.249/30  P-gw
#                          (strongSwan, same PSK connection, IDs and pool as P-gw; no PPK)
#
# The LAN host keeps its one route to the pool via P-gw; each gateway routes the pool to the
# other when it holds no SA for a virtual IP (kernel-libipsec puts the SA's routes in table 220,
# ahead of the main table), so traffic follows the client to whichever gateway it is on, the way
# a cluster's routing would. Usage: gw2.sh [--prefix P]; down.sh removes it with the bed.
# Its charon is reached with `swanctl --uri unix:///tmp/P/gw2/charon.vici`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
NS_GW2=$PREFIX-gw2
GW2_ADDR=198.51.100.20
D=$STATE/gw2
mkdir -p "$D/private"

ip netns add "$NS_GW2"
ip -n "$NS_GW2" link set lo up
ip netns exec "$NS_GW2" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
mkdir -p "/etc/netns/$NS_GW2"
echo "nameserver 192.0.2.53" > "/etc/netns/$NS_GW2/resolv.conf"

# Outside: a point-to-point veth from the NAT router (which keeps 198.51.100.1/24 on its first link).
ip link add "${PREFIX:0:8}n2" netns "$NS_NAT" type veth peer name "${PREFIX:0:8}h0" netns "$NS_GW2"
ip -n "$NS_NAT" addr add 198.51.100.1/32 dev "${PREFIX:0:8}n2"
ip -n "$NS_NAT" link set "${PREFIX:0:8}n2" up
ip -n "$NS_NAT" route add "$GW2_ADDR/32" dev "${PREFIX:0:8}n2"
ip netns exec "$NS_NAT" iptables -t nat -A POSTROUTING -s 192.0.2.0/24 -o "${PREFIX:0:8}n2" -j MASQUERADE
ip -n "$NS_GW2" addr add "$GW2_ADDR/24" dev "${PREFIX:0:8}h0"
ip -n "$NS_GW2" link set "${PREFIX:0:8}h0" up

# Inside: a link between the two gateways.
ip link add "${PREFIX:0:8}gx" netns "$NS_GW" type veth peer name "${PREFIX:0:8}hx" netns "$NS_GW2"
ip -n "$NS_GW" addr add 203.0.113.249/30 dev "${PREFIX:0:8}gx"
ip -n "$NS_GW" link set "${PREFIX:0:8}gx" up
ip -n "$NS_GW2" addr add 203.0.113.250/30 dev "${PREFIX:0:8}hx"
ip -n "$NS_GW2" link set "${PREFIX:0:8}hx" up
ip netns exec "$NS_GW2" sysctl -qw net.ipv4.ip_forward=1
ip -n "$NS_GW" route add "$POOL" via 203.0.113.250
ip -n "$NS_GW2" route add "$POOL" via 203.0.113.249
ip -n "$NS_GW2" route add 203.0.113.0/25 via 203.0.113.249
# charon sources the route of a CHILD_SA from an address inside its local_ts: give it one.
ip -n "$NS_GW2" addr add 203.0.113.2/32 dev lo

for _ in $(seq 1 50); do
  [ -z "$(ip -n "$NS_GW2" -6 addr show tentative)" ] && break
  sleep 0.1
done

cat > "$D/strongswan.conf" <<CONF
charon {
  load = random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey sha1 sha2 hmac gcm aes kdf kernel-libipsec kernel-netlink socket-default vici updown attr
  install_routes = yes
  retransmit_tries = 3
  filelog {
    gw2 {
      path = $D/charon.log
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
      socket = unix://$D/charon.vici
    }
    kernel-libipsec {
      allow_peer_ts = yes
    }
  }
}
CONF

cat > "$D/swanctl.conf" <<CONF
connections {
  psk {
    version = 2
    local_addrs = $GW2_ADDR
    pools = pool4
    proposals = aes256gcm16-aes128gcm16-chacha20poly1305-prfsha256-prfsha384-x25519-ecp256-ecp384-modp2048
    fragmentation = yes
    mobike = yes
    dpd_delay = 30s
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
        esp_proposals = aes256gcm16-aes128gcm16-chacha20poly1305
        dpd_action = clear
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

start_charon "$NS_GW2" "$D"
echo "testbed $PREFIX: second gateway $GW2_ADDR (pid $(cat "$D/charon.pid"))"
