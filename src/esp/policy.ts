/**
 * Security policy for one CHILD_SA: the traffic selectors it protects (RFC 4301 §4.4.1), the same
 * shape IKE negotiates (RFC 7296 §3.13.1), so the IKE layer can hand them over unchanged.
 */
import { addrInRange } from '../core/ip.js';
import type { PacketInfo } from '../core/ip.js';

export interface TrafficSelectorRange {
  startAddr: Uint8Array;
  endAddr: Uint8Array;
  /** 0 = any protocol. */
  protocol: number;
  startPort: number;
  endPort: number;
}

export interface Policy {
  local: TrafficSelectorRange[];
  remote: TrafficSelectorRange[];
}

function matchOne(
  ts: TrafficSelectorRange,
  addr: Uint8Array,
  protocol: number,
  port: number,
): boolean {
  if (!addrInRange(addr, ts.startAddr, ts.endAddr)) return false;
  if (ts.protocol !== 0 && ts.protocol !== protocol) return false;
  if (ts.startPort === 0 && ts.endPort === 65535) return true;
  return port >= ts.startPort && port <= ts.endPort;
}

/** Outbound: source in a local selector and destination in a remote one. */
export function matchesOutbound(p: Policy, pkt: PacketInfo): boolean {
  return (
    p.local.some((t) => matchOne(t, pkt.src, pkt.protocol, pkt.srcPort)) &&
    p.remote.some((t) => matchOne(t, pkt.dst, pkt.protocol, pkt.dstPort))
  );
}

/** Inbound (RFC 4301 §5.2 step 4): source in a remote selector and destination in a local one. */
export function matchesInbound(p: Policy, pkt: PacketInfo): boolean {
  return (
    p.remote.some((t) => matchOne(t, pkt.src, pkt.protocol, pkt.srcPort)) &&
    p.local.some((t) => matchOne(t, pkt.dst, pkt.protocol, pkt.dstPort))
  );
}
