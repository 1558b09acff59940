/** Hash functions (node:crypto). SHA-1 is used only where the RFCs require it (NAT-D, CERTREQ). */
import { createHash } from 'node:crypto';

function digest(alg: string, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(alg).update(data).digest());
}

export const sha1 = (data: Uint8Array): Uint8Array => digest('sha1', data);
export const sha256 = (data: Uint8Array): Uint8Array => digest('sha256', data);
export const sha384 = (data: Uint8Array): Uint8Array => digest('sha384', data);
export const sha512 = (data: Uint8Array): Uint8Array => digest('sha512', data);
