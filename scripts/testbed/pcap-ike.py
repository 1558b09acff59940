#!/usr/bin/env python3
"""Extracts IKE messages from a pcap (Ethernet/IPv4/UDP, ports 500/4500) into files:
ike-sa-init-req.bin, ike-sa-init-resp.bin, ike-auth-req.bin, ike-auth-resp.bin (first of each)."""
import struct, sys

pcap, out = sys.argv[1], sys.argv[2]
data = open(pcap, 'rb').read()
magic = struct.unpack('<I', data[:4])[0]
endian = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
link = struct.unpack(endian + 'I', data[20:24])[0]
off = 24
names = {(34, False): 'ike-sa-init-req', (34, True): 'ike-sa-init-resp', (35, False): 'ike-auth-req', (35, True): 'ike-auth-resp'}
found = {}
while off + 16 <= len(data):
    _, _, incl, _ = struct.unpack(endian + 'IIII', data[off:off + 16])
    pkt = data[off + 16: off + 16 + incl]
    off += 16 + incl
    l2 = 14 if link == 1 else 16 if link == 113 else 0
    ip = pkt[l2:]
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
        continue
    ihl = (ip[0] & 15) * 4
    sport, dport = struct.unpack('>HH', ip[ihl:ihl + 4])
    udp = ip[ihl + 8:]
    if 4500 in (sport, dport):
        if len(udp) < 8 or udp[:4] != b'\0\0\0\0':
            continue  # ESP or keepalive
        udp = udp[4:]
    if len(udp) < 28:
        continue
    exch, flags = udp[18], udp[19]
    key = (exch, bool(flags & 0x20))
    if key in names and key not in found:
        found[key] = udp
for key, name in names.items():
    if key in found:
        open(f'{out}/{name}.bin', 'wb').write(found[key])
        print(f'{name}.bin: {len(found[key])} bytes')
    else:
        print(f'{name}: not captured', file=sys.stderr)
