#!/usr/bin/env bash
# A real systemd-resolved inside the test bed's client namespace, for the split DNS test
# (test/interop/split-dns.test.ts), without touching the host's /etc/resolv.conf or its D-Bus.
#
#   resolved.sh fetch                 download Debian's systemd-resolved and unpack it (dpkg -x,
#                                     never installed: its postinst takes over /etc/resolv.conf)
#                                     into $RESOLVED_ROOT (default /opt/ikev2-vpn-test/resolved)
#   resolved.sh --prefix P start DNS  start it in P-cli with DNS as its global server
#   resolved.sh --prefix P stop
#
# `start` runs, in P-cli and a mount namespace of its own: a tmpfs /run, a private D-Bus system
# bus (dbus-daemon, listening on /run/dbus/system_bus_socket), /etc/passwd and /etc/group copies
# with the systemd-resolve user (bind-mounted), systemd-resolved (drops to that user itself), and
# /etc/resolv.conf bind-mounted to its stub (nameserver 127.0.0.53). It prints the PID of a holder
# process in that mount + network namespace: run commands there with
# `nsenter -t PID -m -n -- CMD` and RESOLVED_ROOT/usr/bin on the PATH (resolvectl).
# Exit 3 (with the reason on stderr) when the package is not there and cannot be fetched.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROOT_DIR=${RESOLVED_ROOT:-/opt/ikev2-vpn-test/resolved}
BIN=$ROOT_DIR/lib/systemd/systemd-resolved
D=$STATE/resolved

fetch() {
  [ -x "$BIN" ] && [ -x "$ROOT_DIR/usr/bin/resolvectl" ] && { runs; return; }
  local tmp
  tmp=$(mktemp -d)
  # apt-get download runs as _apt where it can: give it a folder it may write.
  chmod 755 "$tmp"
  if ! (cd "$tmp" && apt-get download -qq systemd-resolved >/dev/null 2>&1); then
    apt-get update -qq >/dev/null 2>&1 || true
    (cd "$tmp" && apt-get download -qq systemd-resolved >/dev/null 2>&1) || {
      rm -rf "$tmp"
      echo "cannot download Debian's systemd-resolved package (apt-get download systemd-resolved)" >&2
      return 3
    }
  fi
  mkdir -p "$ROOT_DIR"
  dpkg -x "$tmp"/systemd-resolved_*.deb "$ROOT_DIR"
  rm -rf "$tmp"
  [ -x "$BIN" ] || { echo "no $BIN in the package" >&2; return 3; }
  runs
}

# The unpacked binaries use the host's libsystemd-shared (Debian's systemd package, same release).
runs() {
  "$ROOT_DIR/usr/bin/resolvectl" --version >/dev/null 2>&1 || {
    echo "$ROOT_DIR/usr/bin/resolvectl does not run here (it needs the host's systemd package of the same release)" >&2
    return 3
  }
}

case "${ARGS[0]:-}" in
  fetch)
    fetch
    exit $?
    ;;
  stop)
    for f in holder resolved dbus; do
      [ -f "$D/$f.pid" ] && kill "$(cat "$D/$f.pid")" 2>/dev/null || true
    done
    rm -f "$D"/*.pid
    exit 0
    ;;
  start) ;;
  *)
    echo "usage: resolved.sh fetch | --prefix P start DNS | --prefix P stop" >&2
    exit 2
    ;;
esac

UPSTREAM=${ARGS[1]:?start needs the global DNS server}
fetch || exit 3
bash "$0" --prefix "$PREFIX" stop # what a killed run may have left
command -v dbus-daemon >/dev/null || { echo "dbus-daemon not installed (apt-get install dbus)" >&2; exit 3; }
rm -rf "$D"
mkdir -p "$D"
chmod 700 "$D"

# A private system bus: anyone in this mount namespace may own and call anything (root only
# lives here); resolved lets root callers change links without polkit.
cat > "$D/bus.conf" <<'XML'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
XML

# The systemd-resolve user (Debian creates it with sysusers in the postinst we do not run).
ruid=$(getent passwd systemd-resolve | cut -d: -f3 || true)
if [ -z "$ruid" ]; then
  ruid=979
  while getent passwd "$ruid" >/dev/null || getent group "$ruid" >/dev/null; do ruid=$((ruid - 1)); done
  cp /etc/passwd "$D/passwd"
  cp /etc/group "$D/group"
  echo "systemd-resolve:x:$ruid:$ruid:systemd Resolver:/:/usr/sbin/nologin" >> "$D/passwd"
  echo "systemd-resolve:x:$ruid:" >> "$D/group"
  chmod 644 "$D/passwd" "$D/group"
fi

cat > "$D/inner.sh" <<INNER
set -eu
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/dbus /run/systemd/resolved.conf.d
if [ -f "$D/passwd" ]; then
  mount --bind "$D/passwd" /etc/passwd
  mount --bind "$D/group" /etc/group
fi
# Only our servers: the global one given, none compiled in, no caching (each query is seen).
printf '[Resolve]\nDNS=%s\nFallbackDNS=\nDomains=\nLLMNR=no\nMulticastDNS=no\nDNSSEC=no\nDNSOverTLS=no\nCache=no\nDNSStubListener=yes\n' "$UPSTREAM" > /run/systemd/resolved.conf.d/test.conf
dbus-daemon --config-file="$D/bus.conf" --nofork --nopidfile --nosyslog > "$D/dbus.log" 2>&1 &
echo \$! > "$D/dbus.pid"
for _ in \$(seq 1 100); do [ -S /run/dbus/system_bus_socket ] && break; sleep 0.05; done
SYSTEMD_LOG_LEVEL=debug SYSTEMD_LOG_TARGET=console "$BIN" > "$D/resolved.log" 2>&1 &
echo \$! > "$D/resolved.pid"
for _ in \$(seq 1 200); do [ -s /run/systemd/resolve/stub-resolv.conf ] && break; sleep 0.05; done
cp /run/systemd/resolve/stub-resolv.conf "$D/resolv.conf"
chmod 644 "$D/resolv.conf"
mount --bind "$D/resolv.conf" /etc/resolv.conf
touch "$D/ready"
exec sleep infinity
INNER

ip netns exec "$NS_CLI" unshare -m --propagation private bash "$D/inner.sh" > "$D/inner.log" 2>&1 &
echo $! > "$D/holder.pid"
for _ in $(seq 1 200); do
  [ -f "$D/ready" ] && break
  if ! kill -0 "$(cat "$D/holder.pid")" 2>/dev/null; then
    echo "resolved test bed failed to start:" >&2
    cat "$D/inner.log" "$D/dbus.log" "$D/resolved.log" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.05
done
if [ ! -f "$D/ready" ]; then
  echo "systemd-resolved did not write its stub in 10 s:" >&2
  tail -20 "$D/resolved.log" >&2 || true
  bash "$0" --prefix "$PREFIX" stop
  exit 1
fi
# resolved must answer on the bus (its D-Bus name) before a test uses it.
for _ in $(seq 1 100); do
  nsenter -t "$(cat "$D/holder.pid")" -m -n -- "$ROOT_DIR/usr/bin/resolvectl" status >/dev/null 2>&1 && break
  sleep 0.05
done
cat "$D/holder.pid"
