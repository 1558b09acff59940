#!/usr/bin/env bash
# Makes the test bed's certificates with strongSwan's `pki` tool, into DIR (default
# /tmp/ikev2-vpn-testbed-pki): a root CA, an intermediate CA, gateway certificates for every
# interop connection, client certificates, and the deliberately bad ones (expired, wrong name,
# from an untrusted "Evil CA"). Idempotent: an existing complete DIR is kept.
# Usage: pki.sh [DIR]
set -euo pipefail
DIR=${1:-/tmp/ikev2-vpn-testbed-pki}
[ -f "$DIR/.complete" ] && exit 0
rm -rf "$DIR"
mkdir -p "$DIR"
cd "$DIR"
P() { pki "$@" 2>/dev/null; }
O='C=CH, O=ikev2-vpn test'
IP=198.51.100.10

key() { P --gen --type "$1" ${3:+--size "$3"} --outform pem > "$2.key"; }
issue() { # name ca dn [pki --issue options...]
  local name=$1 ca=$2 dn=$3
  shift 3
  P --pub --in "$name.key" | P --issue --cacert "$ca.crt" --cakey "$ca.key" --dn "$dn" \
    --digest sha256 --outform pem "$@" > "$name.crt"
}

key rsa ca 3072
P --self --ca --lifetime 7300 --in ca.key --dn "$O, CN=Test Root CA" --outform pem > ca.crt
key rsa im 4096
issue im ca "$O, CN=Test Intermediate CA" --ca --pathlen 0 --lifetime 7300
key rsa evil-ca 2048
P --self --ca --lifetime 7300 --in evil-ca.key --dn "C=XX, O=Evil, CN=Evil CA" --outform pem > evil-ca.crt

# Gateways (each connection of the bed has its own identity, which the client sends as IDr)
key rsa gw-rsa 2048
issue gw-rsa ca "$O, CN=rsa.gw.test" --san rsa.gw.test --san $IP --flag serverAuth --lifetime 7300
key ecdsa gw-ecdsa 256
issue gw-ecdsa ca "$O, CN=ecdsa.gw.test" --san ecdsa.gw.test --san $IP --flag serverAuth --lifetime 7300
key rsa gw-eap 2048
issue gw-eap ca "$O, CN=eap.gw.test" --san mschap.gw.test --san md5.gw.test --san tls.gw.test \
  --san eaponly.gw.test --san $IP --flag serverAuth --lifetime 7300
key rsa gw-frag 4096
issue gw-frag im "$O, CN=frag.gw.test" --san frag.gw.test --san $IP --flag serverAuth --lifetime 7300
key rsa gw-expired 2048
issue gw-expired ca "$O, CN=expired.gw.test" --san expired.gw.test --san $IP --flag serverAuth \
  --not-before "01.01.19 00:00:00" --not-after "01.01.20 00:00:00"
key rsa gw-wrongname 2048
issue gw-wrongname ca "$O, CN=wrongname.gw.test" --san wrongname.gw.test --flag serverAuth --lifetime 7300
key rsa gw-evil 2048
issue gw-evil evil-ca "C=XX, O=Evil, CN=evil.gw.test" --san evil.gw.test --san $IP --flag serverAuth --lifetime 7300

# Clients
key rsa client-rsa 2048
issue client-rsa ca "$O, CN=client-rsa" --san client-rsa@test --flag clientAuth --lifetime 7300
key ecdsa client-ecdsa 384
issue client-ecdsa ca "$O, CN=client-ecdsa" --san client-ecdsa@test --flag clientAuth --lifetime 7300
key ed25519 client-ed25519
issue client-ed25519 ca "$O, CN=client-ed25519" --san client-ed25519@test --flag clientAuth --lifetime 7300
key rsa client-frag 4096
issue client-frag im "$O, CN=client-frag" --san client-frag@test --flag clientAuth --lifetime 7300
key rsa client-evil 2048
issue client-evil evil-ca "C=XX, O=Evil, CN=client-evil" --san client-evil@test --flag clientAuth --lifetime 7300
key rsa client-tls 2048
issue client-tls ca "$O, CN=carol-tls" --san carol-tls@test --flag clientAuth --lifetime 7300

# Keys as PKCS#8 (what the client loads), readable by root only.
for k in *.key; do
  openssl pkey -in "$k" -out "${k%.key}.p8" 2>/dev/null
done
chmod 600 ./*.key ./*.p8
touch .complete
