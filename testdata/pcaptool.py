#!/usr/bin/env python3
"""Small classic-pcap helpers for the capture-level test captures (no scapy).

  pcaptool.py gap-packets FILE
      Prints the numbers (1-based, as in tshark/editcap) of the two packets
      that make bad-capture_gap.pcap when deleted with editcap:
        1. a segment in the middle of the payload of the client's 2nd data
           frame (it holds neither the frame header nor the frame's end);
        2. the segment holding the header of the server's 4th data frame
           (the frame starts at the first byte of that segment).
      What each packet holds is printed on stderr.

  pcaptool.py duplicate IN OUT [--change N]
      Copies IN to OUT, inserting right after the client packet that carries
      the client's 3rd data frame a copy of that packet (same record header,
      same TCP sequence number, same checksums). With --change N the last N
      payload bytes of the copy are inverted (a retransmission that carries
      different bytes); nothing else is fixed.

Only what the test captures need: classic pcap (micro- or nanosecond),
Ethernet link type, IPv4, one TCP connection whose opening handshake and
HTTP upgrade are in the capture, no loss in the input.
"""
import argparse
import struct
import sys


def log(*args):
    print("pcaptool:", *args, file=sys.stderr, flush=True)


def read_pcap(path):
    data = open(path, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit(f"{path}: not a classic pcap file")
    linktype = struct.unpack(e + "I", data[20:24])[0]
    if linktype != 1:
        raise SystemExit(f"{path}: link type {linktype}, only Ethernet (1) is supported")
    header, records, pos = data[:24], [], 24
    while pos + 16 <= len(data):
        incl = struct.unpack(e + "I", data[pos + 8:pos + 12])[0]
        records.append((data[pos:pos + 16], data[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
    return header, records


def tcp_of(pkt):
    """(src, sport, dst, dport, seq, flags, payload offset in pkt, payload) or None."""
    if len(pkt) < 14 or pkt[12:14] != b"\x08\x00":
        return None
    ip = 14
    ihl = (pkt[ip] & 0x0F) * 4
    if pkt[ip + 9] != 6:
        return None
    total = struct.unpack("!H", pkt[ip + 2:ip + 4])[0]
    t = ip + ihl
    sport, dport, seq = struct.unpack("!HHI", pkt[t:t + 8])
    doff = (pkt[t + 12] >> 4) * 4
    flags = pkt[t + 13]
    start, end = t + doff, ip + total
    return (pkt[ip + 12:ip + 16], sport, pkt[ip + 16:ip + 20], dport, seq, flags, start,
            pkt[start:end])


def streams(records):
    """Per direction ("c2s"/"s2c"): the reassembled bytes and, per data
    packet, (packet number, stream offset, length)."""
    client = None
    isn = {}
    segs = {"c2s": [], "s2c": []}
    for i, (_, pkt) in enumerate(records, 1):
        t = tcp_of(pkt)
        if not t:
            continue
        src, sport, dst, dport, seq, flags, _, payload = t
        if flags & 0x02 and not flags & 0x10 and client is None:
            client = (src, sport)
        if client is None:
            continue
        d = "c2s" if (src, sport) == client else "s2c"
        if flags & 0x02:
            isn[d] = seq
            continue
        if payload:
            segs[d].append((i, (seq - isn[d] - 1) % 2**32, len(payload), payload))
    out = {}
    for d, ss in segs.items():
        buf = bytearray()
        for _, off, n, payload in sorted(ss, key=lambda s: s[1]):
            if off > len(buf):
                raise SystemExit(f"{d}: hole in the input at offset {len(buf)}")
            buf[off:off + n] = payload
        out[d] = (bytes(buf), [(i, off, n) for i, off, n, _ in ss])
    return out


def frames(buf):
    """[(start, end, opcode, payload length)] of the frames after the HTTP head."""
    pos = buf.index(b"\r\n\r\n") + 4
    out = []
    while pos + 2 <= len(buf):
        b0, b1 = buf[pos], buf[pos + 1]
        n, h = b1 & 0x7F, 2
        if n == 126:
            n, h = struct.unpack("!H", buf[pos + 2:pos + 4])[0], 4
        elif n == 127:
            n, h = struct.unpack("!Q", buf[pos + 2:pos + 10])[0], 10
        if b1 & 0x80:
            h += 4
        out.append((pos, pos + h + n, b0 & 0x0F, n))
        pos += h + n
    return out


def data_frames(buf):
    return [f for f in frames(buf) if f[2] in (1, 2)]


def gap_packets(args):
    _, records = read_pcap(args.file)
    s = streams(records)
    picks = []
    # 1. middle of the client's 2nd data frame
    buf, pkts = s["c2s"]
    start, end, op, n = data_frames(buf)[1]
    inner = [p for p in pkts if p[1] > start and p[1] + p[2] < end]
    if not inner:
        raise SystemExit("the client's 2nd data frame does not span 3 segments")
    p = inner[0]
    log(f"packet {p[0]}: c2s bytes {p[1]}-{p[1] + p[2]} inside the payload of the client's "
        f"2nd data frame (opcode {op}, {n} B, stream bytes {start}-{end})")
    picks.append(p[0])
    # 2. the segment starting the server's 4th data frame
    buf, pkts = s["s2c"]
    start, end, op, n = data_frames(buf)[3]
    first = [p for p in pkts if p[1] == start]
    if not first:
        raise SystemExit("the server's 4th data frame does not start a segment")
    p = first[0]
    log(f"packet {p[0]}: s2c bytes {p[1]}-{p[1] + p[2]}: header and first "
        f"{p[2] - (4 if n < 65536 else 10)} payload bytes of the server's 4th data frame "
        f"(opcode {op}, {n} B, stream bytes {start}-{end})")
    picks.append(p[0])
    print(" ".join(map(str, picks)))


def duplicate(args):
    header, records = read_pcap(args.input)
    buf, pkts = streams(records)["c2s"]
    start, end, op, n = data_frames(buf)[2]
    holder = [p for p in pkts if p[1] <= start < p[1] + p[2]]
    num = holder[0][0]
    rec_head, pkt = records[num - 1]
    t = tcp_of(pkt)
    payload_at, payload_len = t[6], len(t[7])
    copy = bytearray(pkt)
    k = args.change
    for j in range(payload_at + payload_len - k, payload_at + payload_len):
        copy[j] ^= 0xFF
    log(f"packet {num}: client data frame (opcode {op}, {n} B) duplicated as packet {num + 1}"
        + (f", last {k} payload bytes inverted" if k else ", identical"))
    with open(args.output, "wb") as f:
        f.write(header)
        for i, (h, p) in enumerate(records, 1):
            f.write(h + p)
            if i == num:
                f.write(rec_head + bytes(copy))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gap-packets")
    g.add_argument("file")
    d = sub.add_parser("duplicate")
    d.add_argument("input")
    d.add_argument("output")
    d.add_argument("--change", type=int, default=0)
    args = p.parse_args()
    {"gap-packets": gap_packets, "duplicate": duplicate}[args.cmd](args)


if __name__ == "__main__":
    main()
