// Writes the .mobileconfig fixtures of scripts/make-import-fixtures.sh with the `plist` package
// (a plist library, not hand-written XML). Usage: node import-fixtures-plist.mjs OUT, in OUT the
// files ca.der and client-rsa.p12; values from the environment (GW, PSK, EAP_USER, ...).
import { build } from 'plist';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const out = process.argv[2];
const env = (k) => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`missing ${k}`);
  return v;
};
const ca = readFileSync(join(out, 'ca.der'));
const p12 = readFileSync(join(out, 'client-rsa.p12'));

const meta = (type, id, uuid) => ({
  PayloadType: type,
  PayloadVersion: 1,
  PayloadIdentifier: `test.ikev2-vpn.${id}`,
  PayloadUUID: uuid,
  PayloadDisplayName: id,
});
const root = {
  ...meta('com.apple.security.root', 'ca', '5B0C1D2E-0000-4000-8000-000000000001'),
  PayloadContent: ca,
};
const profile = (id, vpn, extra = []) => ({
  PayloadType: 'Configuration',
  PayloadVersion: 1,
  PayloadIdentifier: `test.ikev2-vpn.${id}`,
  PayloadUUID: `5B0C1D2E-0000-4000-8000-0000000000${id.length.toString().padStart(2, '0')}`,
  PayloadDisplayName: `Test bed (${id})`,
  PayloadContent: [
    {
      ...meta('com.apple.vpn.managed', `${id}.vpn`, '5B0C1D2E-0000-4000-8000-000000000010'),
      UserDefinedName: `Test bed ${id}`,
      VPNType: 'IKEv2',
      IKEv2: vpn,
    },
    root,
    ...extra,
  ],
});
const common = {
  RemoteAddress: env('GW'),
  IKESecurityAssociationParameters: {
    EncryptionAlgorithm: 'AES-256-GCM',
    IntegrityAlgorithm: 'SHA2-256',
    DiffieHellmanGroup: 19,
    LifeTimeInMinutes: 240,
  },
  ChildSecurityAssociationParameters: {
    EncryptionAlgorithm: 'AES-256-GCM',
    IntegrityAlgorithm: 'SHA2-256',
    DiffieHellmanGroup: 19,
    LifeTimeInMinutes: 60,
  },
  DeadPeerDetectionRate: 'High',
  NATKeepAliveInterval: 20,
  MTU: 1400,
  DisableMOBIKE: 0,
  EnablePFS: 0,
  // Not mapped (listed by vpn import): on-demand rules are an Apple feature.
  OnDemandEnabled: 1,
  OnDemandRules: [{ Action: 'Connect' }],
};

writeFileSync(
  join(out, 'rsa.mobileconfig'),
  build(
    profile(
      'rsa',
      {
        ...common,
        RemoteIdentifier: 'rsa.gw.test',
        LocalIdentifier: 'client-rsa@test',
        AuthenticationMethod: 'Certificate',
        CertificateType: 'RSA',
        ExtendedAuthEnabled: 0,
        PayloadCertificateUUID: '5B0C1D2E-0000-4000-8000-000000000020',
      },
      [
        {
          ...meta('com.apple.security.pkcs12', 'client', '5B0C1D2E-0000-4000-8000-000000000020'),
          PayloadContent: p12,
          Password: env('P12_PASSWORD'),
        },
      ],
    ),
  ),
  { mode: 0o600 },
);
writeFileSync(
  join(out, 'psk.mobileconfig'),
  build(
    profile('psk', {
      ...common,
      RemoteIdentifier: 'gw.test',
      LocalIdentifier: 'client@test',
      AuthenticationMethod: 'SharedSecret',
      SharedSecret: env('PSK'),
      ExtendedAuthEnabled: 0,
    }),
  ),
  { mode: 0o600 },
);
writeFileSync(
  join(out, 'eap.plist'),
  build(
    profile('eap', {
      ...common,
      RemoteIdentifier: 'mschap.gw.test',
      LocalIdentifier: env('EAP_USER'),
      AuthenticationMethod: 'None',
      ExtendedAuthEnabled: 1,
      AuthName: env('EAP_USER'),
      AuthPassword: env('EAP_PASSWORD'),
    }),
  ),
  { mode: 0o600 },
);
