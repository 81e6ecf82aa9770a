#!/usr/bin/env python3
"""Python `websockets` peers for the wscap test captures.

Sub-commands:
  server    echo server (prints "READY" on stdout once listening)
  client    client running one named scenario against a server

Everything is bounded: the server exits after --lifetime seconds even if
nobody stops it, and every client scenario sends a fixed list of messages.
"""
import argparse
import asyncio
import socket
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- server

async def stream_ticks(ws, count, interval, size):
    """Send `count` text frames of `size` bytes, one every `interval` s."""
    try:
        for i in range(count):
            msg = f"tick {i:03d} "
            await ws.send(msg + "s" * max(0, size - len(msg)))
            await asyncio.sleep(interval)
        log(f"server: sent all {count} ticks")
    except ConnectionClosed as exc:
        log(f"server: stopped sending after tick {i - 1}: {exc}")


async def echo(ws):
    path = ws.request.path
    # Special paths (issue-9 captures); every other path is a plain echo.
    if path.startswith("/fail"):
        # The application fails after the first message: websockets closes 1011.
        msg = await ws.recv()
        log("server: /fail got", repr(msg)[:60], "- raising")
        raise RuntimeError("application failed while handling the message")
    if path.startswith("/policy"):
        # Token check in the handler: a bad token is closed with 1008.
        token = path.partition("token=")[2]
        msg = await ws.recv()
        log("server: /policy got", repr(msg)[:60], "token", repr(token))
        if token != "good-token":
            await ws.close(1008, "invalid token")
            log("server: closed 1008")
            return
    if path.startswith("/stream"):
        # Streams text frames server->client while still reading.
        sender = asyncio.create_task(stream_ticks(ws, 40, 0.002, 100))
        try:
            async for msg in ws:
                log("server: /stream got", repr(msg)[:60])
        except ConnectionClosed as exc:
            log("server: connection closed:", exc)
        else:
            log("server: closed by peer", ws.close_code, repr(ws.close_reason))
        await sender
        return
    try:
        async for msg in ws:
            await ws.send(msg)
    except ConnectionClosed as exc:
        log("server: connection closed:", exc)
    else:
        log("server: closed by peer", ws.close_code, repr(ws.close_reason))


async def run_server(args):
    compression = None if args.compression == "none" else "deflate"
    async with serve(
        echo,
        args.host,
        args.port,
        compression=compression,
        max_size=args.max_size,
        ping_interval=None,
    ):
        print("READY", flush=True)
        await asyncio.sleep(args.lifetime)
    log("server: lifetime over, exiting")


# ---------------------------------------------------------------- clients

def uri(args):
    host = f"[{args.host}]" if ":" in args.host else args.host
    return f"ws://{host}:{args.port}/{args.scenario}"


def connect_kw(args, **extra):
    kw = dict(compression=None, ping_interval=None, proxy=None,
              max_size=None, open_timeout=5, close_timeout=5)
    kw.update(extra)
    return kw


async def roundtrip(ws, msg, label):
    await ws.send(msg)
    reply = await ws.recv()
    ok = reply == msg
    log(f"client: {label}: sent {len(msg)} got {len(reply)} {'OK' if ok else 'MISMATCH'}")
    if not ok:
        raise SystemExit(f"echo mismatch for {label}")


def blob(n, seed=0):
    """Deterministic, not very compressible bytes."""
    out = bytearray()
    x = seed * 2654435761 + 12345
    while len(out) < n:
        x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        out += x.to_bytes(8, "little")
    return bytes(out[:n])


async def sc_echo(args):
    """Full echo scenario (py-echo.pcap)."""
    async with connect(uri(args), **connect_kw(args)) as ws:
        await roundtrip(ws, "Hello, wscap!", "text")
        await roundtrip(ws, bytes(range(16)), "binary")
        await roundtrip(ws, "x" * 300, "text-300 (16-bit length)")
        await roundtrip(ws, bytes(i % 251 for i in range(70000)), "binary-70000 (64-bit length)")
        # Fragmented text message: three frames (text FIN=0, cont FIN=0, cont FIN=1).
        await ws.send(["frag-one ", "frag-two ", "frag-three"])
        reply = await ws.recv()
        log("client: fragmented: got", repr(reply))
        assert reply == "frag-one frag-two frag-three"
        latency = await (await ws.ping(b"ping-payload"))
        log(f"client: ping/pong ok ({latency * 1000:.2f} ms)")
        await ws.close(1000, "done")
    log("client: closed", ws.close_code)


async def sc_short(args):
    """Short echo exchange (IPv6, any/SLL, nano, two-conns, ...)."""
    async with connect(uri(args), **connect_kw(args)) as ws:
        await roundtrip(ws, f"hello from {args.tag or 'client'}", "text")
        await roundtrip(ws, b"\x00\x01\x02\x03binary", "binary")
        await roundtrip(ws, "y" * 200, "text-200")
        await ws.close()
    log("client: closed", ws.close_code)


async def sc_small_mss(args):
    """Client socket with TCP_MAXSEG 88 (py-small-mss.pcap)."""
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 88)
    sock.connect((args.host, args.port))
    log("client: TCP_MAXSEG =", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
    async with connect(uri(args), sock=sock, **connect_kw(args)) as ws:
        await roundtrip(ws, "m" * 123, "text-123")
        await roundtrip(ws, blob(300, 2), "binary-300")
        await roundtrip(ws, "abc" * 150, "text-450")
        await roundtrip(ws, blob(5000, 3), "binary-5000")
        # Burst of frames written while the socket is corked: the kernel packs
        # them back to back into 76-byte segments, so frame headers straddle
        # segment boundaries.
        burst = ["b" * n for n in (50, 100, 130, 200, 250, 300)] + [blob(5000, 6)]
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        for m in burst:
            await ws.send(m)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        for i, m in enumerate(burst):
            reply = await ws.recv()
            assert reply == m, f"burst {i} mismatch"
        log(f"client: corked burst of {len(burst)} frames echoed OK")
        await ws.close()
    log("client: closed", ws.close_code)


async def sc_large(args):
    """Large frames, for the snaplen capture."""
    async with connect(uri(args), **connect_kw(args)) as ws:
        await roundtrip(ws, "short", "text-5")
        await roundtrip(ws, "L" * 1000, "text-1000")
        await roundtrip(ws, blob(20000, 4), "binary-20000")
        await roundtrip(ws, blob(70000, 5), "binary-70000")
        await ws.close()
    log("client: closed", ws.close_code)


async def sc_sizes(args):
    """Assorted sizes both ways (snap96/snap64/snap200 captures)."""
    async with connect(uri(args), **connect_kw(args)) as ws:
        await roundtrip(ws, "five!", "text-5")
        await roundtrip(ws, "t" * 200, "text-200")
        await roundtrip(ws, blob(5000, 10), "binary-5000")
        await roundtrip(ws, blob(70000, 11), "binary-70000")
        await ws.close(1000, "sizes done")
    log("client: closed", ws.close_code)


async def sc_expect_close(args):
    """Send one message and report how the server closes (server-1011,
    server-1008): scenario fail -> /fail, policy -> /policy?token=bad-token."""
    target = uri(args) + ("?token=bad-token" if args.scenario == "policy" else "")
    async with connect(target, **connect_kw(args)) as ws:
        await ws.send(f"hello from the {args.scenario} client")
        try:
            reply = await asyncio.wait_for(ws.recv(), 5)
            log("client: unexpected reply", repr(reply)[:80])
        except ConnectionClosed as exc:
            log("client: connection closed:", exc)
    log("client: closed", ws.close_code, repr(ws.close_reason))


async def sc_slow(args):
    """Like short, but holds the connection open for a while (overlap test)."""
    async with connect(uri(args), **connect_kw(args)) as ws:
        for i in range(3):
            await roundtrip(ws, f"{args.tag or 'client'} message {i}", f"text-{i}")
            await asyncio.sleep(args.pause)
        await ws.close()
    log("client: closed", ws.close_code)


async def sc_gap(args):
    """Several messages of a few KB each way (bad-capture_gap.pcap): on a
    1500-byte MTU each one spans 2-4 TCP segments."""
    async with connect(uri(args), **connect_kw(args)) as ws:
        await roundtrip(ws, "g" * 3000, "text-3000")
        await roundtrip(ws, blob(4000, 7), "binary-4000")
        await roundtrip(ws, "h" * 5000, "text-5000")
        await roundtrip(ws, blob(4500, 8), "binary-4500")
        await roundtrip(ws, "i" * 2500, "text-2500")
        await roundtrip(ws, blob(3500, 9), "binary-3500")
        await ws.close(1000, "gap scenario done")
    log("client: closed", ws.close_code)


async def sc_idle(args):
    """One round trip, then silence until someone cuts the connection
    (haproxy-timeout.pcap); waits at most --pause seconds."""
    async with connect(uri(args), **connect_kw(args)) as ws:
        await roundtrip(ws, "one message, then silence", "text")
        try:
            reply = await asyncio.wait_for(ws.recv(), args.pause)
            log("client: unexpected message", repr(reply)[:80])
        except ConnectionClosed as exc:
            log("client: connection closed:", exc)
        except asyncio.TimeoutError:
            log(f"client: still open after {args.pause} s of silence, closing")
            await ws.close()


async def sc_probe(args):
    """Connect, send one text message, report whatever happens (bad-* captures)."""
    kw = connect_kw(args)
    if args.subprotocol:
        kw["subprotocols"] = [args.subprotocol]
    try:
        async with connect(uri(args), **kw) as ws:
            log("client: open, subprotocol", ws.subprotocol)
            await ws.send("hello from websockets")
            try:
                while True:
                    reply = await asyncio.wait_for(ws.recv(), 3)
                    log("client: received", repr(reply)[:80])
            except ConnectionClosed as exc:
                log("client: connection closed:", exc)
            except asyncio.TimeoutError:
                log("client: nothing more received, closing")
    except Exception as exc:  # the handshake itself failed: report it
        log(f"client: failed: {type(exc).__name__}: {exc}")


SCENARIOS = {
    "probe": sc_probe,
    "echo": sc_echo,
    "short": sc_short,
    "small-mss": sc_small_mss,
    "large": sc_large,
    "slow": sc_slow,
    "gap": sc_gap,
    "idle": sc_idle,
    "sizes": sc_sizes,
    "fail": sc_expect_close,
    "policy": sc_expect_close,
}


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--compression", choices=["none", "deflate"], default="none")
    s.add_argument("--max-size", type=int, default=2**20)
    s.add_argument("--lifetime", type=float, default=30.0)
    c = sub.add_parser("client")
    c.add_argument("scenario", choices=sorted(SCENARIOS))
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--tag", default="")
    c.add_argument("--pause", type=float, default=0.2)
    c.add_argument("--subprotocol", default="")
    args = p.parse_args()
    if args.cmd == "server":
        asyncio.run(run_server(args))
    else:
        asyncio.run(asyncio.wait_for(SCENARIOS[args.scenario](args), 30))


if __name__ == "__main__":
    main()
