#!/usr/bin/env python3
"""WebSocket over TLS (wss://) with Python `websockets` and `ssl`, with an NSS
key log, for the issue-13 captures in testdata/wss/.

Sub-commands:
  server CERT KEY   wss echo server (prints "READY" on stdout once listening)
  client            connects to it, sends a fixed list of messages, closes 1000

The client writes the TLS secrets of its connections to --keylog (the NSS
`SSLKEYLOGFILE` format, through `SSLContext.keylog_filename`); the server
writes none, so the key log holds exactly what one client knew.

TLS 1.3 cipher suites cannot be chosen through Python's `ssl` before 3.13
(`set_ciphersuites`); the capture script restricts them with an OpenSSL
configuration file in `OPENSSL_CONF` instead. `--tls12 --ciphers STRING`
pins TLS 1.2 and its (ECDHE) suite.

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


class ResumingContext(ssl.SSLContext):
    """An SSLContext that hands `session` to every connection it makes.

    asyncio (and so websockets) has no way to pass `session=` down to
    `wrap_bio`; overriding it here is the one place where TLS session
    resumption can be asked for.
    """

    session = None

    def wrap_bio(self, *args, **kwargs):
        if self.session is not None and "session" not in kwargs:
            kwargs["session"] = self.session
        return super().wrap_bio(*args, **kwargs)


def pin_versions(ctx, args):
    if args.tls12:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if args.ciphers:
        ctx.set_ciphers(args.ciphers)
    ctx.set_alpn_protocols(args.alpn.split(","))


async def echo(ws):
    async for msg in ws:
        if msg == "ping me":
            # A ping from the server, so that both directions carry a
            # ping/pong pair.
            pong = await ws.ping(b"server-ping")
            await pong
        await ws.send(msg)


async def run_server(args):
    ctx = None
    if not args.plain:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        pin_versions(ctx, args)
    if args.h2:
        await run_h2_server(ctx, args)
        return
    compression = "deflate" if args.deflate else None
    async with serve(echo, args.host, args.port, ssl=ctx,
                     compression=compression, ping_interval=None):
        print("READY", flush=True)
        await asyncio.sleep(args.lifetime)
    log("server: lifetime over, exiting")


def messages(big):
    msgs = ["hello over TLS", b"\x00\x01\x02\x03\xfe\xff", "x" * 200,
            "ping me", bytes(range(256)) * 4]
    if big:
        # Larger than one TLS record (16384 bytes of plaintext at most), so
        # the frame spans two records.
        msgs.append(bytes(i % 251 for i in range(big)))
    msgs.append("last text message")
    return msgs


async def one_connection(ctx, args, n):
    uri = f"wss://{args.host}:{args.port}/wss/{n}"
    compression = "deflate" if args.deflate else None
    async with connect(uri, ssl=ctx, server_hostname="wscap.test",
                       compression=compression, ping_interval=None,
                       proxy=None, open_timeout=5, close_timeout=5) as ws:
        obj = ws.transport.get_extra_info("ssl_object")
        log(f"client[{n}]: {obj.version()} {obj.cipher()[0]}",
            f"alpn={obj.selected_alpn_protocol()} reused={obj.session_reused}")
        for msg in messages(args.big if n == 0 else 0):
            await ws.send(msg)
            reply = await ws.recv()
            log(f"client[{n}]: sent {len(msg)} got {len(reply)}",
                "OK" if reply == msg else "MISMATCH")
            if msg == "x" * 200:
                pong = await ws.ping(b"client-ping")
                await pong
                log(f"client[{n}]: pong received")
        # TLS 1.3 tickets arrive after the handshake: by now they are in.
        ResumingContext.session = obj.session
        await ws.close(1000, "done")
    log(f"client[{n}]: closed", ws.close_code)


async def run_client(args):
    ctx = ResumingContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    pin_versions(ctx, args)
    if args.keylog:
        ctx.keylog_filename = args.keylog
    if args.h2:
        await run_h2_client(ctx, args)
        return
    for n in range(args.conns):
        if not args.resume:
            ResumingContext.session = None
        if n == 1 and args.unlogged_second:
            # The second connection's secrets go nowhere: a capture whose
            # key log misses one connection.
            ctx.keylog_filename = None
        await one_connection(ctx, args, n)


# --- ALPN h2: WebSocket over HTTP/2 (RFC 8441), written by hand ------------
# Neither websockets nor aiohttp speaks HTTP/2, so with --h2 both sides write
# the few HTTP/2 frames themselves: the connection preface and SETTINGS
# (the server's with SETTINGS_ENABLE_CONNECT_PROTOCOL = 1, RFC 8441 section
# 3), an extended CONNECT with :protocol websocket on stream 1, the server's
# 200, one masked WebSocket text frame each way in DATA frames, and GOAWAY.

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(ftype, flags, stream, payload=b""):
    return (len(payload).to_bytes(3, "big") + bytes([ftype, flags])
            + stream.to_bytes(4, "big") + payload)


def hpack_literal(name, value):
    # Literal header field without indexing, new name (RFC 7541 section
    # 6.2.2), no Huffman coding: every string here is shorter than 127 bytes.
    n, v = name.encode(), value.encode()
    return bytes([0, len(n)]) + n + bytes([len(v)]) + v


def ws_frame(opcode, payload, mask=None):
    head = bytes([0x80 | opcode])
    if mask is None:
        return head + bytes([len(payload)]) + payload
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + bytes([0x80 | len(payload)]) + mask + masked


async def h2_read_frame(reader):
    head = await reader.readexactly(9)
    length = int.from_bytes(head[:3], "big")
    payload = await reader.readexactly(length)
    return head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, payload


async def h2_server_conn(reader, writer):
    obj = writer.get_extra_info("ssl_object")
    log(f"server: {obj.version()} alpn={obj.selected_alpn_protocol()}")
    writer.write(h2_frame(4, 0, 0, (8).to_bytes(2, "big") + (1).to_bytes(4, "big")))
    assert await reader.readexactly(len(PREFACE)) == PREFACE
    while True:
        ftype, flags, stream, payload = await h2_read_frame(reader)
        log(f"server: h2 frame type {ftype} flags {flags} stream {stream}")
        if ftype == 4 and not flags & 1:
            writer.write(h2_frame(4, 1, 0))
        elif ftype == 1:
            # :status 200 is index 8 of the HPACK static table.
            writer.write(h2_frame(1, 4, stream, b"\x88"))
        elif ftype == 0 and payload:
            writer.write(h2_frame(0, 0, stream, ws_frame(1, b"echo over h2")))
        elif ftype == 7:
            break
        await writer.drain()
    writer.close()


async def run_h2_server(ctx, args):
    server = await asyncio.start_server(h2_server_conn, args.host, args.port, ssl=ctx)
    async with server:
        print("READY", flush=True)
        await asyncio.sleep(args.lifetime)


async def run_h2_client(ctx, args):
    reader, writer = await asyncio.open_connection(
        args.host, args.port, ssl=ctx, server_hostname="wscap.test")
    obj = writer.get_extra_info("ssl_object")
    log(f"client: {obj.version()} {obj.cipher()[0]} alpn={obj.selected_alpn_protocol()}")
    writer.write(PREFACE + h2_frame(4, 0, 0))
    headers = b"".join(hpack_literal(n, v) for n, v in [
        (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"),
        (":path", "/h2"), (":authority", "wscap.test"),
        ("sec-websocket-version", "13")])
    while True:
        ftype, flags, stream, payload = await h2_read_frame(reader)
        log(f"client: h2 frame type {ftype} flags {flags} stream {stream}")
        if ftype == 4 and not flags & 1:
            writer.write(h2_frame(4, 1, 0))
            writer.write(h2_frame(1, 4, 1, headers))  # END_HEADERS
        elif ftype == 1:
            msg = ws_frame(1, b"hello over h2", mask=b"\x12\x34\x56\x78")
            writer.write(h2_frame(0, 0, 1, msg))
        elif ftype == 0:
            # GOAWAY: last stream 1, NO_ERROR.
            writer.write(h2_frame(7, 0, 0, (1).to_bytes(4, "big") + bytes(4)))
            await writer.drain()
            break
        await writer.drain()
    writer.close()
    await writer.wait_closed()


# --- KeyUpdate: openssl s_client as the TLS client --------------------------
# Python's ssl cannot send a TLS 1.3 KeyUpdate; `openssl s_client` does when
# a line read from its standard input starts with "K" (update, and ask the
# peer to update too) or "k" (update only our side). So the client is
# s_client, fed the HTTP upgrade and masked frames written here, each chunk
# on its own with a pause so that s_client reads it alone. No chunk starts
# with Q, R, K or k except the two commands.

SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def sclient_chunks(port):
    mask = b"\x37\xfa\x21\x3d"
    upgrade = (f"GET /keyupdate HTTP/1.1\r\nHost: wscap.test:{port}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n")
    return [upgrade.encode(),
            ws_frame(1, b"before the key update", mask),
            b"K\n",
            ws_frame(1, b"after the first key update", mask),
            b"k\n",
            ws_frame(2, bytes(range(40)), mask),
            ws_frame(8, (1000).to_bytes(2, "big") + b"keyupdate done", mask)]


def run_sclient(args):
    import subprocess
    import time
    cmd = ["openssl", "s_client", "-connect", f"{args.host}:{args.port}",
           "-tls1_3", "-servername", "wscap.test", "-alpn", "http/1.1",
           "-keylogfile", args.keylog, "-no_ign_eof"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    for chunk in sclient_chunks(args.port):
        proc.stdin.write(chunk)
        proc.stdin.flush()
        time.sleep(0.4)
    time.sleep(0.5)
    # communicate() closes stdin: s_client then says close_notify and exits.
    out = proc.communicate(timeout=10)[0]
    for line in out.decode("latin-1").splitlines():
        if line.startswith(("Protocol", "Cipher is", "KEYUPDATE", "HTTP/1.1")) \
                or "Cipher" in line:
            log("sclient:", line.strip())


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("cert")
    s.add_argument("key")
    s.add_argument("--lifetime", type=float, default=30)
    s.add_argument("--plain", action="store_true",
                   help="no TLS: the backend behind a TLS-terminating proxy")
    c = sub.add_parser("client")
    c.add_argument("--keylog")
    # Client options the server accepts and ignores, so that the capture
    # script can pass one list to both.
    for q in (s, c):
        q.add_argument("--big", type=int, default=0,
                       help="size of one extra binary message (0: none)")
        q.add_argument("--conns", type=int, default=1)
        q.add_argument("--resume", action="store_true",
                       help="connections after the first resume its session")
        q.add_argument("--unlogged-second", action="store_true",
                       help="the second connection writes no key log")
        q.add_argument("--sclient", action="store_true",
                       help="the client is openssl s_client, with two KeyUpdates")
    for q in (s, c):
        q.add_argument("--host", default="127.0.0.1")
        q.add_argument("--port", type=int, required=True)
        q.add_argument("--tls12", action="store_true")
        q.add_argument("--ciphers", help="OpenSSL cipher string (TLS 1.2)")
        q.add_argument("--alpn", default="http/1.1")
        q.add_argument("--deflate", action="store_true")
        q.add_argument("--h2", action="store_true",
                       help="speak HTTP/2 (RFC 8441 extended CONNECT), not HTTP/1.1")
    args = p.parse_args()
    if args.cmd == "client" and args.sclient:
        run_sclient(args)
        return
    asyncio.run(run_server(args) if args.cmd == "server" else run_client(args))


if __name__ == "__main__":
    main()
