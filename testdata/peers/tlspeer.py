#!/usr/bin/env python3
"""WebSocket over TLS (wss://) with Python `websockets` and `ssl`, for the
issue-11 capture of a TLS connection.

Sub-commands:
  server CERT KEY   wss echo server (prints "READY" on stdout once listening)
  client            connects with SNI "wscap.test" and ALPN http/1.1, sends a
                    fixed list of messages, closes 1000

The certificate is a throwaway self-signed one made by the capture script;
the client does not verify it (the point is the bytes on the wire). The
server exits after --lifetime seconds even if nobody stops it.
"""
import argparse
import asyncio
import ssl
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve


def log(*args):
    print(*args, file=sys.stderr, flush=True)


async def echo(ws):
    async for msg in ws:
        await ws.send(msg)


async def run_server(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["http/1.1"])
    async with serve(echo, args.host, args.port, ssl=ctx, compression=None,
                     ping_interval=None):
        print("READY", flush=True)
        await asyncio.sleep(args.lifetime)
    log("server: lifetime over, exiting")


async def run_client(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    uri = f"wss://{args.host}:{args.port}/tls"
    async with connect(uri, ssl=ctx, server_hostname="wscap.test",
                       compression=None, ping_interval=None, proxy=None,
                       open_timeout=5, close_timeout=5) as ws:
        for msg in ["hello over TLS", b"\x00\x01\x02\x03", "x" * 200]:
            await ws.send(msg)
            reply = await ws.recv()
            log(f"client: sent {len(msg)} got {len(reply)}",
                "OK" if reply == msg else "MISMATCH")
        await ws.close(1000, "done")
    log("client: closed", ws.close_code)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("cert")
    s.add_argument("key")
    s.add_argument("--lifetime", type=float, default=30)
    c = sub.add_parser("client")
    for q in (s, c):
        q.add_argument("--host", default="127.0.0.1")
        q.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    asyncio.run(run_server(args) if args.cmd == "server" else run_client(args))


if __name__ == "__main__":
    main()
