#!/usr/bin/env python3
"""Turns one captured IKEv1 conversation into a JSON fixture (test/fixtures/ikev1/CASE.json).

Usage: pcap-ikev1.py PCAP CHARON_LOG CASE OUT_JSON VERSION

PCAP: the gateway side of the test bed (Ethernet/IPv4/UDP, ports 500/4500; the non-ESP marker is
stripped, ESP and keepalives are skipped). CHARON_LOG: the initiator's charon log at level 4
(sw1-client.sh with SW1_DEBUG=1), which prints every encrypted message's IV, plaintext and
ciphertext, and the phase 1 keys. An encrypted message is matched to its plaintext by the
ciphertext bytes, so the fixture holds for each message: the raw bytes as on the wire and, when
encrypted, the decrypted payload chain (exactly the payloads, from the header's first payload
type to the one whose next payload is 0) and the padding after it.
"""
import json, re, struct, sys

pcap, log_path, case, out, version = sys.argv[1:6]

EXCHANGES = {2: 'main', 4: 'aggressive', 5: 'informational', 6: 'transaction', 32: 'quick'}


def read_pcap(path):
    data = open(path, 'rb').read()
    magic = struct.unpack('<I', data[:4])[0]
    endian = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    link = struct.unpack(endian + 'I', data[20:24])[0]
    off = 24
    msgs = []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + 'IIII', data[off:off + 16])
        pkt = data[off + 16: off + 16 + incl]
        off += 16 + incl
        l2 = 14 if link == 1 else 16 if link == 113 else 0
        ip = pkt[l2:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        src = '.'.join(str(b) for b in ip[12:16])
        sport, dport = struct.unpack('>HH', ip[ihl:ihl + 4])
        udp = ip[ihl + 8:]
        marker = False
        if 4500 in (sport, dport):
            if len(udp) < 8 or udp[:4] != b'\0\0\0\0':
                continue  # ESP or a NAT-T keepalive
            udp = udp[4:]
            marker = True
        if len(udp) < 28 or udp[17] >> 4 != 1:
            continue  # not IKEv1 (major version 1)
        msgs.append({'src': src, 'sport': sport, 'dport': dport, 'marker': marker, 'data': udp})
    return msgs


HEX = re.compile(r'^\w{3}\s+\d+ [\d:]+ (\d+)\[(\w+)\]\s+\d+: ((?:[0-9A-F]{2} ){1,16})')
HEAD = re.compile(r'^\w{3}\s+\d+ [\d:]+ (\d+)\[(\w+)\] (.+?) => (\d+) bytes @')
MODE = re.compile(r'^\w{3}\s+\d+ [\d:]+ (\d+)\[ENC\] (encrypting|decrypting) payloads:')


def read_log(path):
    """Hex dumps in order: (thread, label, bytes), and 'mode' marks per thread."""
    items = []
    pending = {}  # thread -> [label, size, bytearray]
    for line in open(path, errors='replace'):
        m = MODE.match(line)
        if m:
            items.append((m.group(1), 'mode:' + m.group(2), b''))
            continue
        m = HEAD.match(line)
        if m:
            pending[m.group(1)] = [m.group(3).strip(), int(m.group(4)), bytearray()]
            if int(m.group(4)) == 0:
                items.append((m.group(1), m.group(3).strip(), b''))
                del pending[m.group(1)]
            continue
        m = HEX.match(line)
        if m and m.group(1) in pending:
            p = pending[m.group(1)]
            p[2].extend(bytes.fromhex(m.group(3)))
            if len(p[2]) >= p[1]:
                items.append((m.group(1), p[0], bytes(p[2][:p[1]])))
                del pending[m.group(1)]
    return items


def crypto_records(items):
    """Per encrypt/decrypt: {'iv', 'plain', 'padding', 'encrypted'} from the same thread."""
    open_rec, done = {}, []
    for thread, label, data in items:
        if label.startswith('mode:'):
            open_rec[thread] = {'mode': label[5:]}
            continue
        rec = open_rec.get(thread)
        if rec is None:
            continue
        if label in ('IV', 'plain', 'padding', 'encrypted') and label not in rec:
            rec[label] = data
        if 'plain' in rec and 'encrypted' in rec:
            done.append(rec)
            del open_rec[thread]
    return done


def chain_length(first, plain):
    """Length of the payload chain starting with type `first` (RFC 2408 §3.2 generic headers)."""
    off, nxt = 0, first
    while nxt != 0:
        if off + 4 > len(plain):
            raise ValueError('payload chain runs past the plaintext')
        nxt = plain[off]
        length = struct.unpack('>H', plain[off + 2:off + 4])[0]
        if length < 4:
            raise ValueError('payload length below 4')
        off += length
    if off > len(plain):
        raise ValueError('payload chain runs past the plaintext')
    return off


items = read_log(log_path)
records = crypto_records(items)
by_cipher = {r['encrypted']: r for r in records}
keys = {}
for _, label, data in items:
    if label in ('SKEYID', 'SKEYID_d', 'SKEYID_a', 'SKEYID_e', 'encryption key Ka', 'initial IV'):
        keys.setdefault(label, data.hex())  # phase 1 keys of the first IKE SA

msgs = read_pcap(pcap)
if not msgs:
    sys.exit('no IKEv1 message in the capture')
initiator = msgs[0]['src']
fixture = {
    'case': case,
    'strongswan': version,
    'made': 'scripts/testbed/capture-ikev1.sh: strongSwan IKEv1 initiator (sw1-client.sh) and responder (up.sh) through the test bed NAT; captured on the gateway side',
    'keys': keys,
    'messages': [],
}
unmatched = 0
fragments = {}  # (sender, fragment ID) -> {number: data}


def attach_plaintext(entry, msg):
    """The plaintext of encrypted message `msg` (header + ciphertext) into `entry`."""
    global unmatched
    rec = by_cipher.get(msg[28:])
    if rec is None:
        unmatched += 1
        return
    plain = rec['plain']
    n = chain_length(msg[16], plain)
    entry['iv'] = rec.get('IV', b'').hex()
    entry['payloads'] = plain[:n].hex()
    entry['padding'] = (plain[n:] + rec.get('padding', b'')).hex()


for m in msgs:
    d = m['data']
    flags = d[19]
    entry = {
        'from': 'initiator' if m['src'] == initiator else 'responder',
        'exchange': EXCHANGES.get(d[18], str(d[18])),
        'exchangeType': d[18],
        'messageId': struct.unpack('>I', d[20:24])[0],
        'encrypted': bool(flags & 1),
        'port': 4500 if m['marker'] else 500,
        'hex': d.hex(),
    }
    if flags & 1:
        attach_plaintext(entry, d)
    elif d[16] == 132 and len(d) >= 36:
        # strongSwan/Cisco IKE fragmentation: one payload of type 132 (generic header, fragment
        # ID, number, flags with bit 0 = last) carrying a slice of the whole encrypted message.
        fid, num, last = struct.unpack('>H', d[32:34])[0], d[34], bool(d[35] & 1)
        entry['fragment'] = {'id': fid, 'number': num, 'last': last}
        fragments.setdefault((entry['from'], fid), {})[num] = d[36:28 + struct.unpack('>H', d[30:32])[0]]
        parts = fragments[(entry['from'], fid)]
        if last and sorted(parts) == list(range(1, num + 1)):
            whole = b''.join(parts[i] for i in range(1, num + 1))
            entry['reassembled'] = whole.hex()
            if whole[19] & 1:
                attach_plaintext(entry, whole)
    fixture['messages'].append(entry)
json.dump(fixture, open(out, 'w'), indent=1)
open(out, 'a').write('\n')
enc = sum(1 for e in fixture['messages'] if e['encrypted'] or 'reassembled' in e)
print(f'{out}: {len(msgs)} messages, {enc} encrypted, {enc - unmatched} with plaintext')
if unmatched:
    sys.exit(f'{unmatched} encrypted messages without a plaintext in the log')
