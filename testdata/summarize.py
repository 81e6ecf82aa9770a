#!/usr/bin/env python3
"""Print a Markdown table of facts about each capture in captures/.

Columns: file, size, link type, packets, TCP connections, WebSocket frames
client->server and server->client as tshark dissects them (a packet may hold
several frames; tshark lists them comma-separated). The direction is taken
from the TCP port that received the SYNs (the server's); captures that start
mid-connection (no SYN) fall back to the lower port.

  python3 summarize.py [FILE...]
"""
import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def tshark(path, *args):
    out = subprocess.run(["tshark", "-n", "-r", path, *args], capture_output=True,
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


def main():
    files = sys.argv[1:] or sorted(
        f for f in glob.glob(os.path.join(HERE, "captures", "*"))
        if not f.endswith(".tsv"))
    print("| file | bytes | link type | packets | TCP conns | WS frames c→s | WS frames s→c |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for f in files:
        x = facts(f)
        print(f"| `{os.path.basename(f)}` | {x['size']} | {x['encap']} | {x['packets']} | "
              f"{x['conns']} | {x['c2s']} | {x['s2c']} |")


if __name__ == "__main__":
    main()
