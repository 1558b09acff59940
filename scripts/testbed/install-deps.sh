#!/usr/bin/env bash
# Installs the Debian packages the test bed, benchmarks and CI need (idempotent, non-interactive):
# make, g++ (with gcc's libasan for scripts/sanitize.sh) and python3 build the addons;
# clang-format checks native/ (.ci/run).
set -euo pipefail
PKGS=(strongswan-swanctl strongswan-charon charon-cmd libcharon-extra-plugins libcharon-extauth-plugins
  libstrongswan-standard-plugins libstrongswan-extra-plugins strongswan-pki iproute2 iptables nftables tcpdump iperf3 iputils-ping procps util-linux conntrack libssl-dev
  make g++ python3 clang-format)
# The aarch64 cross compiler: npm run build:prebuilds also makes the linux-arm64 prebuilds.
PKGS+=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu)
# proxy mode (vpn connect --socks5: ocproxy's lwIP stack) and its interop test (curl)
PKGS+=(ocproxy curl)
# vpn import: openssl cms -verify checks signed .mobileconfig files (and makes the fixtures).
PKGS+=(openssl)
PKGS+=(dbus) # the split DNS test's private system bus for systemd-resolved
PKGS+=(ethtool) # bench-tunnel: which TUN offloads wireguard-go has on (ethtool -k)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian's systemd-resolved for the split DNS test: unpacked into /opt/ikev2-vpn-test/resolved,
# never installed (its postinst takes over the host's /etc/resolv.conf).
bash "$(dirname "$0")/resolved.sh" fetch || echo "testbed deps: systemd-resolved not fetched; the split DNS test will skip"
# wireguard-go (Debian 13) and wg (Debian 12), bench-tunnel's userspace anchor: unpacked into
# /opt/ikev2-vpn-bench/wireguard-go, never installed.
bash "$(dirname "$0")/wireguard-go.sh" fetch || echo "testbed deps: wireguard-go not fetched; bench-tunnel will skip it"
if [ ${#missing[@]} -eq 0 ]; then
  echo "testbed deps: all installed"
  exit 0
fi
echo "testbed deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "testbed deps: done"
