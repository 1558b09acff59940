#!/usr/bin/env bash
# Creates the certificate fixtures of test/pki (see test/pki/fixtures/README.md): a small PKI made
# with strongSwan's `pki` tool and, for what `pki` refuses to make (a keyUsage without
# digitalSignature, a CA without keyCertSign, a certificate signed by a non-CA, an RSA-PSS key),
# with `openssl`. Private keys are written as unencrypted PEM PKCS#8.
#
# Usage: bash scripts/make-test-pki.sh [outdir]   (default: test/pki/fixtures)
# Re-running replaces every file: keys, serial numbers and signatures change; names and dates do
# not (valid 2020-01-01 to 2099-12-31 UTC, except the deliberately expired and future ones).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:-test/pki/fixtures}
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

# issue NAME CA DN [pki --issue options...]: certificate $OUT/NAME.crt for $OUT/NAME.key.
issue() {
  local name=$1 ca=$2 dn=$3
  shift 3
  pki_ --issue --in "$OUT/$name.key" --type priv --cacert "$OUT/$ca.crt" --cakey "$OUT/$ca.key" \
    --dn "$dn" --dateform "$DATEFORM" --outform pem "$@" > "$OUT/$name.crt"
}

# ossl_issue NAME CA SUBJECT EXTENSIONS [openssl ca options...]: with openssl, for what pki refuses
# to make. EXTENSIONS is the body of an openssl.cnf extension section. `openssl ca` (unlike
# `openssl x509 -req` in OpenSSL 3.0) takes fixed start and end dates.
ossl_issue() {
  local name=$1 ca=$2 subj=$3 ext=$4
  shift 4
  local dir
  dir=$(mktemp -d)
  : > "$dir/index.txt"
  openssl rand -hex 8 > "$dir/serial"
  printf '%s\n' '[ca]' 'default_ca = test' '[test]' "database = $dir/index.txt" \
    "new_certs_dir = $dir" "serial = $dir/serial" 'default_md = sha256' 'policy = any' \
    'unique_subject = no' '[any]' 'countryName = optional' 'organizationName = optional' \
    'organizationalUnitName = optional' 'commonName = supplied' '[ext]' "$ext" > "$dir/ca.cnf"
  openssl req -new -key "$OUT/$name.key" -subj "$subj" -out "$dir/req.csr"
  openssl ca -batch -config "$dir/ca.cnf" -cert "$OUT/$ca.crt" -keyfile "$OUT/$ca.key" \
    -in "$dir/req.csr" -startdate 20200101000000Z -enddate 20991231235959Z -preserveDN \
    -extensions ext -notext "$@" -out "$dir/out.pem" 2>/dev/null
  openssl x509 -in "$dir/out.pem" -out "$OUT/$name.crt"
  rm -rf "$dir"
}

# Root CA (RSA 3072), self-signed.
gen root-ca rsa 3072
pki_ --self --in "$OUT/root-ca.key" --type priv --dn "$ORG, CN=Test Root CA" --ca \
  --not-before "$FROM" --not-after "$UNTIL" --dateform "$DATEFORM" --outform pem > "$OUT/root-ca.crt"

# Intermediate CA (ECDSA P-384) under the root, pathLen 0: may issue end-entity certificates only.
gen int-ca ecdsa 384
issue int-ca root-ca "$ORG, CN=Test Intermediate CA" --ca --pathlen 0 \
  --not-before "$FROM" --not-after "$UNTIL"

# Gateways.
gen gw-rsa rsa 2048
issue gw-rsa root-ca "$ORG, CN=gw.test" --san gw.test --san 198.51.100.10 --flag serverAuth \
  --not-before "$FROM" --not-after "$UNTIL"
gen gw-ecdsa ecdsa 256
issue gw-ecdsa int-ca "$ORG, CN=gw-ecdsa.test" --san gw-ecdsa.test --san '*.vpn.test' \
  --san 2001:db8::10 --san gw-admin@vpn.test --flag serverAuth --not-before "$FROM" --not-after "$UNTIL"
cat "$OUT/gw-ecdsa.crt" "$OUT/int-ca.crt" > "$OUT/gw-ecdsa-chain.pem"
gen gw-ed25519 ed25519
issue gw-ed25519 int-ca "$ORG, CN=gw-ed.test" --san gw-ed.test --flag serverAuth \
  --not-before "$FROM" --not-after "$UNTIL"

# An RSA-PSS key (id-RSASSA-PSS SubjectPublicKeyInfo), certificate signed by the root with PSS.
openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out "$OUT/gw-pss.key" 2>/dev/null
ossl_issue gw-pss root-ca "/C=CH/O=ikev2-vpn test/CN=gw-pss.test" \
  'subjectAltName = DNS:gw-pss.test
extendedKeyUsage = serverAuth' \
  -md sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32

# Dates: expired in 2021, not valid before 2090.
gen expired ecdsa 256
issue expired root-ca "$ORG, CN=expired.test" --san expired.test \
  --not-before '2020-01-01 00:00:00' --not-after '2021-01-01 00:00:00'
gen future ecdsa 256
issue future root-ca "$ORG, CN=future.test" --san future.test \
  --not-before '2090-01-01 00:00:00' --not-after "$UNTIL"

# A CA nobody trusts, with a gateway certificate that looks like the real one.
gen evil-ca rsa 2048
pki_ --self --in "$OUT/evil-ca.key" --type priv --dn "CN=Evil CA" --ca \
  --not-before "$FROM" --not-after "$UNTIL" --dateform "$DATEFORM" --outform pem > "$OUT/evil-ca.crt"
gen evil-gw rsa 2048
issue evil-gw evil-ca "$ORG, CN=gw.test" --san gw.test --san 198.51.100.10 \
  --not-before "$FROM" --not-after "$UNTIL"

# keyUsage without digitalSignature (key encipherment only).
gen nodigsig ecdsa 256
ossl_issue nodigsig root-ca "/C=CH/O=ikev2-vpn test/CN=nodigsig.test" \
  'keyUsage = critical, keyEncipherment
subjectAltName = DNS:nodigsig.test'

# An end-entity certificate (no CA basicConstraint) used as an issuer.
gen notca ecdsa 256
issue notca root-ca "$ORG, CN=notca.test" --san notca.test --not-before "$FROM" --not-after "$UNTIL"
gen notca-child ecdsa 256
ossl_issue notca-child notca "/C=CH/O=ikev2-vpn test/CN=child-of-notca.test" \
  'subjectAltName = DNS:child-of-notca.test'

# A CA whose keyUsage lacks keyCertSign, and a certificate it signed.
gen nosign-ca ecdsa 256
ossl_issue nosign-ca root-ca "/C=CH/O=ikev2-vpn test/CN=No keyCertSign CA" \
  'basicConstraints = critical, CA:true
keyUsage = critical, digitalSignature, cRLSign'
gen nosign-leaf ecdsa 256
ossl_issue nosign-leaf nosign-ca "/C=CH/O=ikev2-vpn test/CN=nosign-leaf.test" \
  'subjectAltName = DNS:nosign-leaf.test'

# pathLen: a sub-CA under the intermediate (pathLen 0 forbids it) and a leaf under the sub-CA.
gen sub-ca ecdsa 256
issue sub-ca int-ca "$ORG, CN=Test Sub CA" --ca --not-before "$FROM" --not-after "$UNTIL"
gen sub-leaf ecdsa 256
issue sub-leaf sub-ca "$ORG, CN=sub-leaf.test" --san sub-leaf.test --not-before "$FROM" --not-after "$UNTIL"

# Names: no subjectAltName at all (CN fallback), and a DNS-only SAN with an IP address as CN.
gen cn-only ecdsa 256
issue cn-only root-ca "$ORG, CN=legacy.test" --not-before "$FROM" --not-after "$UNTIL"
gen cn-ip ecdsa 256
issue cn-ip root-ca "$ORG, CN=192.0.2.7" --san ipcn.test --not-before "$FROM" --not-after "$UNTIL"

# Clients.
gen client-rsa rsa 2048
issue client-rsa root-ca "$ORG, CN=carol" --san carol@vpn.test --flag clientAuth \
  --not-before "$FROM" --not-after "$UNTIL"
gen client-ecdsa ecdsa 256
issue client-ecdsa int-ca "$ORG, OU=Clients, CN=dave" --san dave@vpn.test --flag clientAuth \
  --not-before "$FROM" --not-after "$UNTIL"

# Extended key usage (RFC 5280 §4.2.1.12, RFC 4945 §5.1.3.12) of gateway certificates: accepted
# are iKEIntermediate, id-kp-ipsecIKE, anyExtendedKeyUsage and serverAuth with clientAuth; refused
# are codeSigning alone and clientAuth alone (a client certificate naming the gateway).
# (openssl: `pki --flag` knows only serverAuth, clientAuth, ikeIntermediate, ocspSigning, msSmartcardLogon.)
for eku in ike:1.3.6.1.5.5.8.2.2 ipsec:1.3.6.1.5.5.7.3.17 any:anyExtendedKeyUsage \
  both:serverAuth,clientAuth codesign:codeSigning; do
  gen "eku-${eku%%:*}" ecdsa 256
  ossl_issue "eku-${eku%%:*}" root-ca "/C=CH/O=ikev2-vpn test/CN=eku-${eku%%:*}.test" \
    "subjectAltName = DNS:eku-${eku%%:*}.test
extendedKeyUsage = ${eku#*:}"
done
gen eku-client-gw ecdsa 256
ossl_issue eku-client-gw root-ca "/C=CH/O=ikev2-vpn test/CN=gw.test" \
  'subjectAltName = DNS:gw.test, IP:198.51.100.10
extendedKeyUsage = clientAuth'

# strongSwan's key IDs (SHA-1 of the DER SubjectPublicKeyInfo, what charon puts in CERTREQ
# payloads, RFC 7296 §3.7), for the tests to compare Certificate.keyIdSha1() with.
for c in "$OUT"/*.crt; do
  id=$(pki --keyid --in "$c" --type x509 2>/dev/null |
    awk '/subjectPublicKeyInfo/ { getline; gsub(/[ :]/, ""); print }')
  echo "$(basename "$c" .crt) $id"
done > "$OUT/keyids.txt"

echo "wrote $(find "$OUT" -name '*.crt' | wc -l) certificates and $(find "$OUT" -name '*.key' | wc -l) keys to $OUT"
