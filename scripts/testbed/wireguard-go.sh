#!/usr/bin/env bash
# wireguard-go, the benchmark's userspace anchor (scripts/bench-wg.mjs, run by bench-tunnel), from
# Debian's own registry, never installed over the system:
#
#   wireguard-go.sh fetch    download Debian 13 (trixie)'s wireguard-go package (upstream
#                            0.0.20231211 tree, which prints v0.0.20230223: TUN offloads, UDP
#                            GSO/GRO) through a private apt configuration (its own source list,
#                            package lists and cache under $WG_ROOT/apt; the system's apt state is
#                            not touched), and Debian 12 (bookworm)'s wireguard-tools for `wg`
#                            (trixie's needs glibc 2.38) through the system's sources; unpack both
#                            with dpkg -x into $WG_ROOT (default /opt/ikev2-vpn-bench/wireguard-go).
#                            Idempotent: does nothing when both binaries are there and run.
#   wireguard-go.sh path     print the two binaries' paths (wireguard-go, then wg), exit 3 if absent
#
# Exit 3 with the reason on stderr when the packages cannot be had (offline, mirror unreachable):
# bench-tunnel then skips the wireguard-go figures and says why.
set -euo pipefail
WG_ROOT=${WG_ROOT:-/opt/ikev2-vpn-bench/wireguard-go}
WG_GO=$WG_ROOT/usr/bin/wireguard-go
WG=$WG_ROOT/usr/bin/wg
MIRROR=${WG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

runs() {
  "$WG_GO" --version >/dev/null 2>&1 || { echo "$WG_GO does not run here" >&2; return 3; }
  "$WG" --version >/dev/null 2>&1 || { echo "$WG does not run here" >&2; return 3; }
}

fetch() {
  [ -x "$WG_GO" ] && [ -x "$WG" ] && runs && return 0
  local apt=$WG_ROOT/apt tmp
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  [ -f "$KEYRING" ] || { echo "no $KEYRING (Debian's debian-archive-keyring)" >&2; return 3; }
  echo "deb [signed-by=$KEYRING] $MIRROR trixie main" > "$apt/trixie.list"
  local opts=(-o "Dir::Etc::sourcelist=$apt/trixie.list" -o Dir::Etc::sourceparts=-
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Get::List-Cleanup=0)
  tmp=$(mktemp -d)
  # apt-get download runs as _apt where it can: give it a folder it may write.
  chmod 755 "$tmp"
  # apt-get update exits 0 when a source is unreachable: look for the package list itself.
  apt-get -qq "${opts[@]}" update >/dev/null 2>&1 || true
  if ! compgen -G "$apt/lists/*_dists_trixie_main_binary-*_Packages*" >/dev/null; then
    rm -rf "$tmp"
    echo "cannot reach Debian 13's package lists at $MIRROR (apt-get update with a trixie line)" >&2
    return 3
  fi
  if ! (cd "$tmp" && apt-get -qq "${opts[@]}" download wireguard-go >/dev/null 2>&1); then
    rm -rf "$tmp"
    echo "cannot download Debian 13's wireguard-go package from $MIRROR" >&2
    return 3
  fi
  # `wg` from the system's release (bookworm): it only speaks to wireguard-go's UAPI socket here.
  if ! (cd "$tmp" && apt-get download -qq wireguard-tools >/dev/null 2>&1); then
    apt-get update -qq >/dev/null 2>&1 || true
    (cd "$tmp" && apt-get download -qq wireguard-tools >/dev/null 2>&1) || {
      rm -rf "$tmp"
      echo "cannot download Debian's wireguard-tools package (apt-get download wireguard-tools)" >&2
      return 3
    }
  fi
  mkdir -p "$WG_ROOT"
  dpkg -x "$tmp"/wireguard-go_*.deb "$WG_ROOT"
  dpkg -x "$tmp"/wireguard-tools_*.deb "$WG_ROOT"
  dpkg-deb -f "$tmp"/wireguard-go_*.deb Version > "$WG_ROOT/wireguard-go.version"
  rm -rf "$tmp"
  [ -x "$WG_GO" ] && [ -x "$WG" ] || { echo "no $WG_GO or $WG in the packages" >&2; return 3; }
  runs
}

case "${1:-}" in
  fetch)
    fetch
    exit $?
    ;;
  path)
    [ -x "$WG_GO" ] && [ -x "$WG" ] || { echo "wireguard-go not fetched (scripts/testbed/wireguard-go.sh fetch)" >&2; exit 3; }
    echo "$WG_GO"
    echo "$WG"
    ;;
  *)
    echo "usage: wireguard-go.sh fetch | path" >&2
    exit 2
    ;;
esac
