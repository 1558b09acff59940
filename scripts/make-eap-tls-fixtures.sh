#!/usr/bin/env bash
# Creates the certificate fixtures of test/client/eap-tls.test.ts (EAP-TLS, RFC 5216 / RFC 9190):
# a small PKI made with strongSwan's `pki` tool. Private keys are unencrypted PEM PKCS#8,
# certificates PEM. Run once; the outputs are committed and the tests never regenerate them.
#
# Usage: bash scripts/make-eap-tls-fixtures.sh [outdir]   (default: test/client/fixtures/eap-tls)
# Re-running replaces every key, serial number and signature; names and dates stay (valid
# 2020-01-01 to 2099-12-31 UTC, except the deliberately expired and not-yet-valid ones). The tests
# validate against the real clock (node:tls), so the expired one must stay in the past and the
# future one in the future.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:-test/client/fixtures/eap-tls}
mkdir -p "$OUT"
export TZ=UTC

command -v pki >/dev/null || { echo "needs strongSwan's pki tool (apt-get install strongswan-pki)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "needs openssl" >&2; exit 1; }

ORG='C=CH, O=ikev2-vpn test'
DATEFORM='%Y-%m-%d %H:%M:%S'
FROM='2020-01-01 00:00:00'
UNTIL='2099-12-31 23:59:59'

# pki prints TPM plugin noise on stderr; keep real errors visible.
pki_() { pki "$@" 2> >(grep -v -e 'TPM 2.0' -e "plugin 'tpm'" >&2); }

# gen NAME TYPE [SIZE]: a private key as PEM PKCS#8 in $OUT/NAME.key.
gen() {
  local name=$1 type=$2 size=${3:-}
  local tmp
  tmp=$(mktemp)
  if [ -n "$size" ]; then
    pki_ --gen --type "$type" --size "$size" --outform pem > "$tmp"
  else
    pki_ --gen --type "$type" --outform pem > "$tmp"
  fi
  openssl pkcs8 -topk8 -nocrypt -in "$tmp" -out "$OUT/$name.key"
  rm -f "$tmp"
}

# self NAME DN [pki --self options...]: self-signed certificate $OUT/NAME.crt.
self() {
  local name=$1 dn=$2
  shift 2
  pki_ --self --in "$OUT/$name.key" --type priv --dn "$dn" --dateform "$DATEFORM" \
    --outform pem "$@" > "$OUT/$name.crt"
}

# issue NAME CA DN [pki --issue options...]: certificate $OUT/NAME.crt for $OUT/NAME.key.
issue() {
  local name=$1 ca=$2 dn=$3
  shift 3
  pki_ --issue --in "$OUT/$name.key" --type priv --cacert "$OUT/$ca.crt" --cakey "$OUT/$ca.key" \
    --dn "$dn" --dateform "$DATEFORM" --outform pem "$@" > "$OUT/$name.crt"
}

# Trust anchor (ECDSA P-256) and an intermediate CA (RSA 2048) under it.
gen ca ecdsa 256
self ca "$ORG, CN=EAP Test CA" --ca --not-before "$FROM" --not-after "$UNTIL"
gen int-ca rsa 2048
issue int-ca ca "$ORG, CN=EAP Test Intermediate CA" --ca --pathlen 0 \
  --not-before "$FROM" --not-after "$UNTIL"

# EAP-TLS servers (the gateway's AAA side): names eap.test and 192.0.2.10.
gen server ecdsa 256
issue server ca "$ORG, CN=eap.test" --san eap.test --san 192.0.2.10 --flag serverAuth \
  --not-before "$FROM" --not-after "$UNTIL"
# RSA 3072 under the intermediate: a bigger first flight (leaf + intermediate), more fragments.
gen server-rsa rsa 3072
issue server-rsa int-ca "$ORG, CN=eap.test" --san eap.test --flag serverAuth \
  --not-before "$FROM" --not-after "$UNTIL"
cat "$OUT/server-rsa.crt" "$OUT/int-ca.crt" > "$OUT/server-rsa-chain.pem"
gen server-expired ecdsa 256
issue server-expired ca "$ORG, CN=eap.test" --san eap.test --flag serverAuth \
  --not-before '2020-01-01 00:00:00' --not-after '2021-01-01 00:00:00'
gen server-future ecdsa 256
issue server-future ca "$ORG, CN=eap.test" --san eap.test --flag serverAuth \
  --not-before '2090-01-01 00:00:00' --not-after "$UNTIL"
gen server-selfsigned ecdsa 256
self server-selfsigned "$ORG, CN=eap.test" --san eap.test --flag serverAuth \
  --not-before "$FROM" --not-after "$UNTIL"

# A CA nobody trusts, with a server and a client certificate that look like the real ones.
gen evil-ca ecdsa 256
self evil-ca "CN=Evil CA" --ca --not-before "$FROM" --not-after "$UNTIL"
gen server-evil ecdsa 256
issue server-evil evil-ca "$ORG, CN=eap.test" --san eap.test --flag serverAuth \
  --not-before "$FROM" --not-after "$UNTIL"
gen client-evil ecdsa 256
issue client-evil evil-ca "$ORG, CN=carol" --san carol@vpn.test --flag clientAuth \
  --not-before "$FROM" --not-after "$UNTIL"

# EAP-TLS peers (our side): one directly under the CA, one under the intermediate (sent as a chain).
gen client ecdsa 256
issue client ca "$ORG, CN=carol" --san carol@vpn.test --flag clientAuth \
  --not-before "$FROM" --not-after "$UNTIL"
gen client-rsa rsa 2048
issue client-rsa int-ca "$ORG, OU=Clients, CN=dave" --san dave@vpn.test --flag clientAuth \
  --not-before "$FROM" --not-after "$UNTIL"

echo "wrote $(find "$OUT" -name '*.crt' | wc -l) certificates and $(find "$OUT" -name '*.key' | wc -l) keys to $OUT"
