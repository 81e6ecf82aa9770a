#!/usr/bin/env python3
"""Print a Markdown table of facts about each capture in captures/.

Columns: file, size, link type, packets, TCP connections, WebSocket frames
client->server and server->client as tshark dissects them (a packet may hold
several frames; tshark lists them comma-separated). The direction is taken
from the TCP port that received the SYNs (the server's); captures that start
mid-connection (no SYN) fall back to the lower port.

  python3 summarize.py [FILE...]
  python3 summarize.py --tls [FILE...]   # wss/: adds TLS version and suite

For a capture with a key log beside it (NAME.keys for NAME.pcap, as in wss/)
tshark is given that key log, so the frames counted are the decrypted ones.
"""
import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def keylog_args(path):
    keys = os.path.splitext(path)[0] + ".keys"
    return ["-o", f"tls.keylog_file:{keys}"] if os.path.exists(keys) else []


def tshark(path, *args):
    out = subprocess.run(["tshark", "-n", "-r", path, *keylog_args(path), *args],
                         capture_output=True,
                         text=True, check=False).stdout
    return [line for line in out.splitlines() if line.strip()]


def capinfo(path):
    out = subprocess.run(["capinfos", "-T", "-m", "-E", "-c", path],
                         capture_output=True, text=True, check=False).stdout
    lines = out.splitlines()
    if len(lines) < 2:
        return "?", "?"
    _, encap, count = lines[1].split(",")[:3]
    return encap, count


def facts(path):
    encap, packets = capinfo(path)
    streams = set(tshark(path, "-Y", "tcp", "-T", "fields", "-e", "tcp.stream"))
    syn_ports = set(tshark(path, "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0",
                           "-T", "fields", "-e", "tcp.dstport"))
    rows = tshark(path, "-Y", "websocket", "-T", "fields", "-E", "separator=/t",
                  "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "websocket.opcode")
    c2s = s2c = 0
    for row in rows:
        parts = row.split("\t")
        src, dst, ops = parts[0], parts[1], parts[2] if len(parts) > 2 else ""
        n = len(ops.split(",")) if ops else 0
        if syn_ports:
            to_server = dst in syn_ports
        else:
            to_server = int(dst) < int(src)
        if to_server:
            c2s += n
        else:
            s2c += n
    return dict(size=os.path.getsize(path), encap=encap, packets=packets,
                conns=len(streams), c2s=c2s, s2c=s2c)


SUITES = {"0x1301": "TLS_AES_128_GCM_SHA256", "0x1302": "TLS_AES_256_GCM_SHA384",
          "0x1303": "TLS_CHACHA20_POLY1305_SHA256",
          "0xc02b": "ECDHE-ECDSA-AES128-GCM-SHA256", "0xc02c": "ECDHE-ECDSA-AES256-GCM-SHA384",
          "0xc02f": "ECDHE-RSA-AES128-GCM-SHA256", "0xc030": "ECDHE-RSA-AES256-GCM-SHA384",
          "0xcca8": "ECDHE-RSA-CHACHA20-POLY1305", "0xcca9": "ECDHE-ECDSA-CHACHA20-POLY1305",
          "0xc023": "ECDHE-ECDSA-AES128-SHA256"}


def tls_facts(path):
    """TLS version and suite of each ServerHello (HelloRetryRequests left out)."""
    rows = tshark(path, "-Y", "tls.handshake.type == 2", "-T", "fields", "-E", "separator=/t",
                  "-e", "tls.handshake.extensions.supported_version",
                  "-e", "tls.handshake.ciphersuite", "-e", "tls.handshake.random")
    seen = []
    for row in rows:
        parts = row.split("\t") + ["", "", ""]
        # A HelloRetryRequest is a ServerHello with this fixed random (RFC 8446 4.1.3).
        if parts[2].startswith("cf21ad74e59a6111be1d8c021e65b891"):
            continue
        version = "1.3" if "0x0304" in parts[0] else "1.2"
        seen.append(f"{version} {SUITES.get(parts[1], parts[1])}")
    return ", ".join(dict.fromkeys(seen)) or "-"


def main():
    args = sys.argv[1:]
    tls = bool(args) and args[0] == "--tls"
    if tls:
        args = args[1:]
    files = args or sorted(
        f for f in glob.glob(os.path.join(HERE, "wss" if tls else "captures", "*"))
        if not f.endswith((".tsv", ".keys")))
    if tls:
        print("| file | bytes | link type | packets | TCP conns | TLS | WS frames c→s | WS frames s→c |")
        print("|---|---:|---|---:|---:|---|---:|---:|")
        for f in files:
            x = facts(f)
            print(f"| `{os.path.basename(f)}` | {x['size']} | {x['encap']} | {x['packets']} | "
                  f"{x['conns']} | {tls_facts(f)} | {x['c2s']} | {x['s2c']} |")
        return
    print("| file | bytes | link type | packets | TCP conns | WS frames c→s | WS frames s→c |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for f in files:
        x = facts(f)
        print(f"| `{os.path.basename(f)}` | {x['size']} | {x['encap']} | {x['packets']} | "
              f"{x['conns']} | {x['c2s']} | {x['s2c']} |")


if __name__ == "__main__":
    main()
