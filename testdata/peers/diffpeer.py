#!/usr/bin/env python3
"""Python `websockets` peers for the `wscap diff` capture pairs
(make-diff-captures.sh).

Sub-commands:
  server    echo server (prints "READY" on stdout once listening); with
            --ack-over N it answers messages longer than N bytes with a short
            text "got N bytes" instead of echoing them (keeps captures small)
  client    runs one scripted SESSION: the same connections, paths and
            messages whatever the other side does, so that the two captures
            of a pair differ only by what was changed between them

Every session runs its connections one after the other (never overlapping),
in the order of --paths. A connection that fails (handshake refused,
closed by the peer, cut) is reported and the session goes on with the next
one. Everything is bounded: the server exits after --lifetime seconds, each
connection of a session gives up after 20 s, the whole session after 60 s.
"""
import argparse
import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- server

async def handler(ws, ack_over):
    path = ws.request.path
    log("server: open", path, "extensions:",
        [e.name for e in ws.protocol.extensions] or "(none)")
    try:
        async for msg in ws:
            if ack_over is not None and len(msg) > ack_over:
                await ws.send(f"got {len(msg)} bytes")
            else:
                await ws.send(msg)
    except ConnectionClosed as exc:
        log("server:", path, "connection closed:", exc)
    else:
        log("server:", path, "closed by peer", ws.close_code, repr(ws.close_reason))


async def run_server(args):
    compression = None if args.compression == "none" else "deflate"
    async with serve(
        lambda ws: handler(ws, args.ack_over),
        args.host,
        args.port,
        compression=compression,
        max_size=args.max_size,
        ping_interval=None,
    ):
        print("READY", flush=True)
        await asyncio.sleep(args.lifetime)
    log("server: lifetime over, exiting")


# ---------------------------------------------------------------- client

LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do "
         "eiusmod tempor incididunt ut labore et dolore magna aliqua. ")


def json_items(n):
    return "[" + ",".join(
        f'{{"id":{i},"name":"item-{i:04d}","price":{i * 3 % 97}.50,"in_stock":true}}'
        for i in range(n)) + "]"


def text_of(size, seed):
    """Compressible text of exactly `size` bytes (ASCII)."""
    base = LOREM if seed % 2 == 0 else json_items(200)
    return (base * (size // len(base) + 1))[:size]


def pattern(n, seed):
    """Deterministic bytes that do not compress (for the size session)."""
    out = bytearray()
    x = seed * 2654435761 + 12345
    while len(out) < n:
        x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        out += x.to_bytes(8, "little")
    return bytes(out[:n])


# Each session: (messages, close reason, offer permessage-deflate?). A
# message is sent and its answer awaited before the next one; after the
# first message of the `idle` session the client stays silent --pause s.
def session(name, path):
    tag = path.strip("/")
    if name == "chat":
        return ([f"hello from {tag}", b"\x00\x01\x02\x03" + tag.encode(),
                 f"{tag}: " + "y" * 200], f"{tag} done", False)
    if name == "deflate":
        return ([text_of(2000, 0), text_of(3000, 1), text_of(4000, 2),
                 text_of(5000, 3)], f"{tag} done", True)
    if name == "sizes":
        return ([pattern(10 * 1024, 1), pattern(100 * 1024, 2),
                 pattern(200 * 1024, 3)], f"{tag} done", False)
    if name == "idle":
        return ([f"{tag}: first message, then silence",
                 f"{tag}: second message after the silence"], f"{tag} done", False)
    raise SystemExit(f"unknown session {name}")


def describe(m):
    kind = "binary" if isinstance(m, bytes) else "text"
    return f"{kind} {len(m)} B"


async def one_connection(args, path):
    messages, reason, deflate = session(args.session, path)
    url = f"ws://{args.host}:{args.port}{path}"
    kw = dict(compression="deflate" if deflate else None, ping_interval=None,
              proxy=None, max_size=None, open_timeout=5, close_timeout=5)
    try:
        ws = await connect(url, **kw)
    except Exception as exc:  # the handshake failed: report it and go on
        log(f"client {path}: handshake failed: {type(exc).__name__}: {exc}")
        return
    log(f"client {path}: open, extensions:",
        [e.name for e in ws.protocol.extensions] or "(none)")
    try:
        for i, m in enumerate(messages):
            if i == 1 and args.session == "idle":
                log(f"client {path}: silent for {args.pause} s")
                await asyncio.sleep(args.pause)
            await ws.send(m)
            reply = await ws.recv()
            ok = reply == m or reply == f"got {len(m)} bytes"
            log(f"client {path}: sent {describe(m)}, got {describe(reply)}"
                f" {'OK' if ok else 'MISMATCH'}")
        await ws.close(1000, reason)
        log(f"client {path}: closed", ws.close_code, repr(ws.close_reason))
    except ConnectionClosed as exc:
        log(f"client {path}: connection closed: {exc}")
    finally:
        await ws.close()


async def run_client(args):
    for path in args.paths.split(","):
        await asyncio.wait_for(one_connection(args, path), 20)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--compression", choices=["none", "deflate"], default="none")
    s.add_argument("--max-size", type=int, default=2**20)
    s.add_argument("--ack-over", type=int, default=None)
    s.add_argument("--lifetime", type=float, default=30.0)
    c = sub.add_parser("client")
    c.add_argument("session", choices=["chat", "deflate", "sizes", "idle"])
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--paths", default="/chat,/feed")
    c.add_argument("--pause", type=float, default=3.0)
    args = p.parse_args()
    if args.cmd == "server":
        asyncio.run(run_server(args))
    else:
        asyncio.run(asyncio.wait_for(run_client(args), 60))


if __name__ == "__main__":
    main()
