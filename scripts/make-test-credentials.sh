#!/usr/bin/env bash
# Creates test/config/fixtures/credentials/ (described in its README.md): the client's
# credentials in every form `vpn` loads — RSA, ECDSA P-256/P-384/P-521 and Ed25519 keys with
# self-signed certificates (strongSwan's `pki`), the keys as PEM and DER PKCS#8, encrypted PKCS#8,
# traditional RSA/SEC1 PEM (plain and with the legacy `Proc-Type: 4,ENCRYPTED` header), and
# PKCS#12 files made by `openssl pkcs12` with PBES2/AES, the legacy PKCS#12 3DES scheme, RC2-40
# (refused by Node.js without the legacy provider), without MAC, without encryption, with an
# empty and with a non-ASCII password.
#
# Usage: bash scripts/make-test-credentials.sh [outdir]   (default: test/config/fixtures/credentials)
# Run once; the outputs are committed and the tests never regenerate them. Re-running replaces
# every key (the tests only compare files with each other, so they keep passing).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:-test/config/fixtures/credentials}
mkdir -p "$OUT"
export TZ=UTC

command -v pki >/dev/null || { echo "needs strongSwan's pki tool (apt-get install strongswan-pki)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "needs openssl" >&2; exit 1; }

PASS=test-pass
# Non-ASCII (two Latin-1 letters and the euro sign, U+20AC): the PKCS#12 KDF sees it as
# BMPString, PBES2 as UTF-8.
UPASS='pässwörd-€'
ORG='C=CH, O=ikev2-vpn test'

pki_() { pki "$@" 2> >(grep -v -e 'TPM 2.0' -e "plugin 'tpm'" >&2); }

# key NAME OPENSSL-GENPKEY-ARGS...: $OUT/NAME.key, unencrypted PEM PKCS#8.
key() {
  local name=$1
  shift
  openssl genpkey "$@" -out "$OUT/$name.key" 2>/dev/null
}

# self NAME CN: a self-signed end-entity certificate $OUT/NAME.crt (PEM) for $OUT/NAME.key.
self() {
  pki_ --self --in "$OUT/$1.key" --type priv --dn "$ORG, CN=$2" --san "$2" \
    --not-before '2020-01-01 00:00:00' --not-after '2099-12-31 23:59:59' \
    --dateform '%Y-%m-%d %H:%M:%S' --flag clientAuth --outform pem > "$OUT/$1.crt"
}

key rsa -algorithm RSA -pkeyopt rsa_keygen_bits:2048
key ec256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve
key ec384 -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve
key ec521 -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -pkeyopt ec_param_enc:named_curve
key ed25519 -algorithm ED25519
self rsa carol@rsa.test
self ec256 carol@ec256.test
self ec384 carol@ec384.test
self ec521 carol@ec521.test
self ed25519 carol@ed25519.test

# Certificates as DER too.
openssl x509 -in "$OUT/rsa.crt" -outform DER -out "$OUT/rsa.crt.der"

# Key forms.
openssl pkey -in "$OUT/rsa.key" -outform DER -out "$OUT/rsa.key.der"
openssl pkey -in "$OUT/ed25519.key" -outform DER -out "$OUT/ed25519.key.der"
openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -in "$OUT/rsa.key" \
  -passout "pass:$PASS" -out "$OUT/rsa-enc.key"
openssl pkcs8 -topk8 -v2 aes-128-cbc -v2prf hmacWithSHA512 -in "$OUT/rsa.key" \
  -passout "pass:$PASS" -outform DER -out "$OUT/rsa-enc.key.der"
openssl pkcs8 -topk8 -v2 des3 -v2prf hmacWithSHA1 -in "$OUT/ec256.key" \
  -passout "pass:$PASS" -out "$OUT/ec256-enc.key"
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$OUT/ed25519.key" \
  -passout "pass:$PASS" -out "$OUT/ed25519-enc.key"
openssl rsa -in "$OUT/rsa.key" -traditional -out "$OUT/rsa-trad.key" 2>/dev/null
openssl rsa -in "$OUT/rsa.key" -traditional -aes256 -passout "pass:$PASS" \
  -out "$OUT/rsa-trad-enc.key" 2>/dev/null
openssl ec -in "$OUT/ec256.key" -out "$OUT/ec256-sec1.key" 2>/dev/null
openssl ec -in "$OUT/ec256.key" -aes128 -passout "pass:$PASS" -out "$OUT/ec256-sec1-enc.key" 2>/dev/null

# PKCS#12. OpenSSL 3's default is PBES2 (PBKDF2 with HMAC-SHA-256, AES-256-CBC) and an HMAC-SHA-256
# MAC; the rsa file also carries a second certificate (the ec256 one) after the leaf.
p12() {
  local name=$1 base=$2
  shift 2
  openssl pkcs12 -export -in "$OUT/$base.crt" -inkey "$OUT/$base.key" -name "$base" "$@" \
    -out "$OUT/$name.p12"
}
p12 rsa-aes rsa -certfile "$OUT/ec256.crt" -passout "pass:$PASS" \
  -certpbe AES-256-CBC -keypbe AES-256-CBC -macalg sha256
p12 ec256-3des ec256 -passout "pass:$PASS" -certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES -macalg sha1
p12 ec256-mixed ec256 -passout "pass:$PASS" -certpbe AES-128-CBC -keypbe DES-EDE3-CBC -macalg sha384
p12 ed25519-aes ed25519 -passout "pass:$PASS" -certpbe AES-192-CBC -keypbe AES-256-CBC -macalg sha512
p12 rsa-nomac rsa -passout "pass:$PASS" -certpbe AES-256-CBC -keypbe AES-256-CBC -nomac
p12 rsa-plain rsa -passout "pass:$PASS" -certpbe NONE -keypbe NONE -macalg sha256
p12 rsa-empty-pass rsa -passout pass: -certpbe AES-256-CBC -keypbe AES-256-CBC
p12 ec256-empty-pass-3des ec256 -passout pass: -certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES
p12 ec384-utf8 ec384 -passout "pass:$UPASS" -certpbe AES-256-CBC -keypbe AES-256-CBC -macalg sha256
p12 ec521-utf8-3des ec521 -passout "pass:$UPASS" -certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES
# OpenSSL 1.x's default: RC2-40 for the certificates, 3DES for the key, SHA-1 MAC. Needs the
# legacy provider; skipped (and the README says so) when this OpenSSL cannot make it.
if ! p12 rsa-rc2 rsa -legacy -passout "pass:$PASS" 2>/dev/null; then
  rm -f "$OUT/rsa-rc2.p12"
  echo "note: this openssl cannot make RC2 PKCS#12 files (no legacy provider); rsa-rc2.p12 skipped" >&2
fi

chmod 600 "$OUT"/*.key "$OUT"/*.der "$OUT"/*.p12
chmod 644 "$OUT"/*.crt "$OUT"/rsa.crt.der
ls -l "$OUT"
