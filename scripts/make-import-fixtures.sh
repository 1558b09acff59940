#!/usr/bin/env bash
# Makes the `vpn import` fixtures with real tools and the test bed's values, into OUT:
#   mschap.sswan         strongSwan .sswan, ikev2-eap (EAP-MSCHAPv2 as carol), remote.cert = the
#                        bed's CA (base64 DER), plus keys vpn cannot map (dns-servers, excluded nets)
#   rsa.sswan            .sswan ikev2-cert, local.p12 = client-rsa as PKCS#12 (openssl, AES)
#   rsa.mobileconfig     Apple profile (written by the `plist` package): IKEv2 Certificate auth,
#                        PayloadCertificateUUID -> com.apple.security.pkcs12 (with Password),
#                        com.apple.security.root = the CA, SA parameters, DPD, keepalive, MTU
#   psk.mobileconfig     IKEv2 SharedSecret (the bed's PSK connection)
#   eap-signed.mobileconfig  IKEv2 EAP (carol), CMS-signed (openssl cms -sign) by a profile
#                        signer certificate the bed's CA issued (strongSwan pki)
#   eap-tampered.mobileconfig  the same with one byte of the signed content changed
#   signer.crt / evil-ca.crt   the signer's certificate; a CA that did not issue it
# The certificates come from the test bed's PKI (scripts/testbed/pki.sh, made when missing).
# Usage: bash scripts/make-import-fixtures.sh OUT [PKI_DIR]   (about a second)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: make-import-fixtures.sh OUT [PKI_DIR]}
PKI=${2:-${TB_PKI_DIR:-/tmp/ikev2-vpn-testbed-pki}}
command -v pki >/dev/null || { echo "needs strongSwan's pki tool (apt-get install strongswan-pki)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "needs openssl" >&2; exit 1; }
bash "$ROOT/scripts/testbed/pki.sh" "$PKI"
mkdir -p "$OUT"
chmod 700 "$OUT"
cd "$OUT"
umask 077

# Values of the test bed (scripts/testbed/lib.sh, up.sh).
GW=198.51.100.10
PSK=$(grep -m1 '^TEST_PSK=' "$ROOT/scripts/testbed/lib.sh" | sed "s/^TEST_PSK='\(.*\)'$/\1/")
EAP_USER=carol
EAP_PASSWORD="carol's EAP password"
P12_PASSWORD='import p12 pass'

openssl x509 -in "$PKI/ca.crt" -outform DER -out ca.der
openssl pkcs12 -export -in "$PKI/client-rsa.crt" -inkey "$PKI/client-rsa.key" \
  -name client-rsa -passout "pass:$P12_PASSWORD" -out client-rsa.p12
CA_B64=$(base64 -w0 ca.der)
P12_B64=$(base64 -w0 client-rsa.p12)

cat > mschap.sswan <<JSON
{
  "uuid": "0e8c0f9e-8a3c-4f55-9a3e-6b1f6c8a1d01",
  "name": "Test bed (EAP-MSCHAPv2)",
  "type": "ikev2-eap",
  "remote": { "addr": "$GW", "id": "mschap.gw.test", "cert": "$CA_B64", "certreq": true },
  "local": { "eap_id": "$EAP_USER" },
  "split-tunneling": { "subnets": "203.0.113.0/25", "excluded": "203.0.113.64/26" },
  "dns-servers": "203.0.113.53",
  "nat-keepalive": 20,
  "mtu": 1400
}
JSON

cat > rsa.sswan <<JSON
{
  "uuid": "0e8c0f9e-8a3c-4f55-9a3e-6b1f6c8a1d02",
  "name": "Test bed (certificate)",
  "type": "ikev2-cert",
  "remote": { "addr": "$GW", "id": "rsa.gw.test", "cert": "$CA_B64" },
  "local": { "id": "client-rsa@test", "p12": "$P12_B64" },
  "ike-proposal": "aes256gcm16-prfsha256-ecp256",
  "esp-proposal": "aes256gcm16"
}
JSON

# A profile signer issued by the bed's CA, and an unrelated CA for the negative case.
pki --gen --type ecdsa --size 256 --outform pem > signer.key 2>/dev/null
pki --pub --in signer.key 2>/dev/null | pki --issue --cacert "$PKI/ca.crt" --cakey "$PKI/ca.key" \
  --dn "C=CH, O=ikev2-vpn test, CN=Profile Signer" --lifetime 7300 --outform pem > signer.crt 2>/dev/null
cp "$PKI/evil-ca.crt" evil-ca.crt

# The plists, written by the plist package (node), not by hand.
GW=$GW PSK=$PSK EAP_USER=$EAP_USER EAP_PASSWORD=$EAP_PASSWORD P12_PASSWORD=$P12_PASSWORD \
  node "$ROOT/scripts/import-fixtures-plist.mjs" "$OUT"

openssl cms -sign -nodetach -binary -outform DER -in eap.plist -signer signer.crt -inkey signer.key \
  -certfile "$PKI/ca.crt" -out eap-signed.mobileconfig
# One byte of the signed content changed: the signature must no longer verify.
node -e '
const fs = require("fs");
const b = fs.readFileSync(process.argv[1]);
const i = b.indexOf(Buffer.from("mschap.gw.test"));
if (i < 0) process.exit(1);
b[i] ^= 0x01;
fs.writeFileSync(process.argv[2], b);
' eap-signed.mobileconfig eap-tampered.mobileconfig
rm -f eap.plist
echo "import fixtures in $OUT"
