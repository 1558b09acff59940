/**
 * NAT detection (RFC 7296 §2.23): NAT_DETECTION_*_IP notify data is
 * SHA-1(SPIi | SPIr | IP address | port), with SPIr zero in the IKE_SA_INIT request.
 */
import { concatBytes } from '../core/bytes.js';
import { parseIpAddress } from '../core/ip.js';
import { sha1 } from '../crypto/hash.js';

export interface Endpoint {
  /** IP literal (v4 or v6). */
  address: string;
  port: number;
}

export function natdHash(spiI: Uint8Array, spiR: Uint8Array, ep: Endpoint): Uint8Array {
  const port = new Uint8Array(2);
  new DataView(port.buffer).setUint16(0, ep.port);
  return sha1(concatBytes(spiI, spiR, parseIpAddress(ep.address), port));
}
