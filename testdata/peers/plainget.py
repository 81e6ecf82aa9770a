#!/usr/bin/env python3
"""One plain HTTP/1.1 GET (no Upgrade) to a WebSocket server, printed to stderr."""
import argparse
import socket
import sys

p = argparse.ArgumentParser()
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, required=True)
p.add_argument("--path", default="/plain")
a = p.parse_args()
with socket.create_connection((a.host, a.port), timeout=5) as s:
    s.sendall(f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n"
              f"User-Agent: wscap-plainget\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
print("plainget: got", data.split(b"\r\n", 1)[0].decode(errors="replace"),
      f"({len(data)} bytes)", file=sys.stderr)
