/**
 * `vpn import FILE [--name NAME] [--force] [--trust-ca FILE] [--json]`: a strongSwan `.sswan`
 * profile or an Apple `.mobileconfig` (plain, or CMS-signed: RFC 5652 SignedData, checked with
 * `openssl cms -verify`) becomes profile NAME.conf plus NAME-ca.pem / NAME.p12 beside it, all
 * mode 600, in the first profile folder. The mapping is in src/config/import*.ts; here are the
 * file system, openssl and the report. The input is hostile: bounded, and escaped when printed.
 */
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { VpnError } from '../core/errors.js';
import { printable, printableJson } from '../core/printable.js';
import {
  MAX_IMPORT_BYTES,
  fromSswan,
  profileNameFrom,
  renderProfile,
  type Imported,
} from '../config/import.js';
import { PROFILE_NAME, fsIo, loadProfile } from '../config/profile.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

export interface ImportFlags {
  name?: string;
  force?: boolean;
  trustCa?: string;
  json?: boolean;
}

/** What we know of a signature: said in the report and in the profile's header. */
export interface SignatureStatus {
  signed: boolean;
  /** The signer certificate's subject (escaped when printed). */
  signer?: string;
  /** True when it chains to --trust-ca. */
  verified: boolean;
  text: string;
}

/** Reads the input: a regular file of at most 1 MiB (not a FIFO or device). */
export function readImportFile(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new VpnError('ERR_CONFIG', `cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new VpnError('ERR_CONFIG', `${path} is not a regular file`);
    if (st.size > MAX_IMPORT_BYTES)
      throw new VpnError(
        'ERR_CONFIG',
        `${path} is larger than 1 MiB (${st.size} bytes): not a VPN profile vpn imports`,
      );
    return new Uint8Array(readFileSync(fd));
  } finally {
    closeSync(fd);
  }
}

function openssl(args: string[], input: Uint8Array): ReturnType<typeof spawnSync> {
  const r = spawnSync('openssl', args, {
    input,
    timeout: 15000,
    killSignal: 'SIGKILL',
    maxBuffer: 2 * MAX_IMPORT_BYTES,
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT')
    throw new VpnError(
      'ERR_CONFIG',
      'openssl is needed to check the signed profile: apt-get install openssl',
    );
  return r;
}

function firstLine(b: unknown): string {
  const s = Buffer.isBuffer(b) ? b.toString('utf8') : '';
  const line = s.split('\n').find((l) => l.trim() !== '' && !/^[0-9A-F]{8,}:/.test(l)) ?? s;
  return printable(line.trim().slice(0, 160));
}

/**
 * A CMS-signed profile (RFC 5652 SignedData, what Apple Configurator and MDMs produce): the
 * signature is checked over the embedded content (a bad one is refused, exit 12); with
 * `trustCa`, the signer must chain to it (else exit 13). Returns the content and the status.
 */
export function verifySignedProfile(
  data: Uint8Array,
  trustCa: string | undefined,
): { content: Uint8Array; status: SignatureStatus } {
  const tmp = mkdtempSync(join(tmpdir(), 'vpn-import-'));
  try {
    const signerPem = join(tmp, 'signer.pem');
    // -noverify: the signature over the content, not yet the signer's chain.
    const r = openssl(
      ['cms', '-verify', '-inform', 'DER', '-binary', '-noverify', '-signer', signerPem],
      data,
    );
    if (r.status !== 0)
      throw new VpnError(
        'ERR_CERT',
        `the profile's CMS signature does not verify (openssl: ${firstLine(r.stderr)}); refusing a tampered or corrupt profile`,
      );
    const content = new Uint8Array(r.stdout as Buffer);
    let signer = '(unknown signer)';
    try {
      signer = new X509Certificate(readFileSync(signerPem)).subject.replace(/\n/g, ', ');
    } catch {
      // no signer certificate in the message: said as unknown
    }
    if (trustCa === undefined)
      return {
        content,
        status: {
          signed: true,
          signer,
          verified: false,
          text: `signed by ${signer}; signature valid, but the signer was NOT verified against a trusted CA (pass --trust-ca FILE)`,
        },
      };
    if (statSync(trustCa, { throwIfNoEntry: false })?.isFile() !== true)
      throw new VpnError('ERR_CONFIG', `--trust-ca ${trustCa}: no such file`);
    const c = openssl(
      ['cms', '-verify', '-inform', 'DER', '-binary', '-purpose', 'any', '-CAfile', trustCa],
      data,
    );
    if (c.status !== 0)
      throw new VpnError(
        'ERR_CERT_UNTRUSTED',
        `the profile is signed by ${signer}, which does not chain to --trust-ca ${trustCa} (openssl: ${firstLine(c.stderr)})`,
      );
    return {
      content,
      status: {
        signed: true,
        signer,
        verified: true,
        text: `signed by ${signer}; the signer chains to ${trustCa}`,
      },
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Recognises the format and maps it (a signed .mobileconfig is checked first). */
export async function importFile(
  path: string,
  data: Uint8Array,
  trustCa: string | undefined,
): Promise<{ imported: Imported; signature: SignatureStatus }> {
  // The plist parser (with an XML DOM, ~300 KB of the bundled CLI) only for .mobileconfig: it is
  // not loaded at every start of `vpn` (connect time, docs/performance.md).
  const mobileconfig = () => import('../config/import-mobileconfig.js');
  let i = 0;
  // A UTF-8 BOM and leading white space are allowed before JSON or XML.
  if (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) i = 3;
  while (i < data.length && [0x20, 0x09, 0x0a, 0x0d].includes(data[i]!)) i++;
  const unsigned: SignatureStatus = { signed: false, verified: false, text: 'not signed' };
  const refuseUnsigned = (): void => {
    if (trustCa !== undefined)
      throw new VpnError(
        'ERR_CERT_UNTRUSTED',
        `${path} is not signed, but --trust-ca asks for a profile signed by that CA`,
      );
  };
  const text = (b: Uint8Array): string => {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch {
      throw new VpnError('ERR_CONFIG', `${path} is not UTF-8 text`);
    }
  };
  if (data[i] === 0x7b) {
    refuseUnsigned();
    return {
      imported: fromSswan(text(data)),
      signature: { ...unsigned, text: 'a .sswan profile carries no signature' },
    };
  }
  if (data[i] === 0x3c) {
    refuseUnsigned();
    const { fromMobileconfig, parseMobileconfigXml } = await mobileconfig();
    return { imported: fromMobileconfig(parseMobileconfigXml(text(data))), signature: unsigned };
  }
  if (data[0] === 0x30) {
    const { content, status } = verifySignedProfile(data, trustCa);
    const { fromMobileconfig, parseMobileconfigXml } = await mobileconfig();
    return { imported: fromMobileconfig(parseMobileconfigXml(text(content))), signature: status };
  }
  throw new VpnError(
    'ERR_CONFIG',
    `${path} is neither a strongSwan .sswan profile (JSON) nor an Apple .mobileconfig (plist XML, or CMS-signed)`,
  );
}

/** Writes the profile and its files (mode 600, never through a symbolic link); returns paths. */
function writeProfile(
  imp: Imported,
  source: string,
  name: string,
  dir: string,
  force: boolean,
  signature: SignatureStatus,
): { conf: string; files: { key: string; path: string }[] } {
  const conf = join(dir, `${name}.conf`);
  const files = imp.files.map((f) => ({ ...f, path: join(dir, `${name}${f.suffix}`) }));
  const all = [conf, ...files.map((f) => f.path)];
  // lstat: a dangling symbolic link counts as taken too.
  const taken = all.filter((p) => lstatSync(p, { throwIfNoEntry: false }) !== undefined);
  if (taken.length > 0 && !force)
    throw new VpnError(
      'ERR_CONFIG',
      `${taken.join(', ')} already exist${taken.length === 1 ? 's' : ''}; pass --force to replace, or --name OTHER`,
    );
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new VpnError('ERR_CONFIG', `cannot create ${dir}: ${(e as Error).message}`);
  }
  const written: string[] = [];
  try {
    const put = (p: string, data: Uint8Array | string): void => {
      if (force) rmSync(p, { force: true });
      // 'wx' (O_CREAT | O_EXCL): no symbolic link or file planted since is followed.
      try {
        writeFileSync(p, data, { mode: 0o600, flag: 'wx' });
      } catch (e) {
        throw new VpnError('ERR_CONFIG', `cannot write ${p}: ${(e as Error).message}`);
      }
      written.push(p);
    };
    for (const f of files) put(f.path, f.data);
    const names = Object.fromEntries(files.map((f) => [f.key, basename(f.path)]));
    put(conf, renderProfile(imp, source, names, signature.text));
    // The profile as vpn connect will read it: types, modes, named files.
    loadProfile(name, conf, fsIo);
  } catch (e) {
    for (const p of written) {
      try {
        unlinkSync(p);
      } catch {
        // already gone
      }
    }
    throw e;
  }
  return { conf, files: files.map((f) => ({ key: f.key, path: f.path })) };
}

export function registerImport(program: Command, setExit: (code: number) => void): void {
  program
    .command('import')
    .description(
      'make a profile from a strongSwan .sswan or an Apple .mobileconfig (plain or signed)',
    )
    .argument('<file>', 'the .sswan or .mobileconfig file')
    .option('--name <name>', 'profile name (default: from the file name)')
    .option('--force', 'replace an existing profile of that name and its files')
    .option(
      '--trust-ca <file>',
      'a signed .mobileconfig must be signed by a certificate of this CA',
    )
    .option('--json', 'one JSON line')
    .action(async (file: string, flags: ImportFlags) => {
      try {
        const name = flags.name ?? profileNameFrom(basename(file));
        if (!PROFILE_NAME.test(name))
          throw new VpnError(
            'ERR_CONFIG',
            `profile name ${JSON.stringify(name)}: use up to 32 letters, digits, _ and -`,
          );
        const { imported, signature } = await importFile(file, readImportFile(file), flags.trustCa);
        const dir = fsIo.dirs()[0]!;
        const out = writeProfile(imported, file, name, dir, flags.force === true, signature);
        if (flags.json) {
          process.stdout.write(
            printableJson({
              event: 'imported',
              name,
              path: out.conf,
              format: imported.format,
              signature,
              files: out.files,
              settings: Object.fromEntries(
                imported.settings
                  .filter((s) => !['psk', 'eap-password', 'p12-password'].includes(s.key))
                  .map((s) => [s.key, s.value]),
              ),
              unmapped: imported.unmapped,
              notes: imported.notes,
            }) + '\n',
          );
        } else {
          const w = (s: string): boolean => process.stdout.write(printable(s) + '\n');
          w(
            `Imported ${file} (${imported.format === 'sswan' ? 'strongSwan .sswan' : 'Apple .mobileconfig'}; ${signature.text}) as profile ${name}:`,
          );
          w(`  ${out.conf}`);
          for (const f of out.files)
            w(`  ${f.path} (${f.key === 'ca' ? 'CA certificate' : 'PKCS#12 certificate and key'})`);
          if (imported.unmapped.length > 0) {
            w('Not imported (also listed in the profile):');
            for (const u of imported.unmapped) w(`  ${u.path}: ${u.reason}`);
          }
          for (const n of imported.notes) w(`Note: ${n}`);
          w(`Next: vpn show ${name}; vpn up ${name}`);
        }
        setExit(EXIT.OK);
      } catch (e) {
        const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
        if (flags.json)
          process.stdout.write(
            printableJson({ event: 'error', exitCode: code, error: (e as Error).message }) + '\n',
          );
        process.stderr.write(`vpn: ${printable((e as Error).message)}\n`);
        setExit(code);
      }
    });
}
