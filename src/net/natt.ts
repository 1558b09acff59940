/**
 * UDP encapsulation of IKE and ESP on port 4500 (RFC 3948 §2, RFC 7296 §2.23), pure:
 * a 1-byte 0xFF datagram is a NAT-keepalive, four zero bytes (the non-ESP marker) precede IKE,
 * anything else is ESP (its SPI is never zero).
 */
export const NAT_KEEPALIVE = Uint8Array.of(0xff);

export type Udp4500Datagram =
  | { kind: 'keepalive' }
  | { kind: 'ike'; data: Uint8Array }
  | { kind: 'esp'; data: Uint8Array }
  | { kind: 'invalid' };

export function classifyUdp4500(d: Uint8Array): Udp4500Datagram {
  if (d.length === 1 && d[0] === 0xff) return { kind: 'keepalive' };
  if (d.length < 8) return { kind: 'invalid' };
  if (d[0] === 0 && d[1] === 0 && d[2] === 0 && d[3] === 0)
    return { kind: 'ike', data: d.subarray(4) };
  return { kind: 'esp', data: d };
}

export function addNonEspMarker(ike: Uint8Array): Uint8Array {
  const out = new Uint8Array(ike.length + 4);
  out.set(ike, 4);
  return out;
}
