#!/usr/bin/env python3
"""Raw-socket WebSocket peer that breaks the protocol on purpose.

It speaks the HTTP upgrade by hand and builds every frame byte by byte, so it
can send what a real library never would. One sub-command per scenario:

  rawpeer.py client SCENARIO --port N     # raw client against a real server
  rawpeer.py server SCENARIO --port N     # raw server for a real client
  rawpeer.py list                         # scenario names and roles

The other side is always a real implementation (Python websockets or Node
ws); what it answered is logged on stderr ("peer sent ..."). Everything is
bounded: sockets have timeouts and the raw server accepts one connection.
"""
import argparse
import base64
import hashlib
import os
import random
import socket
import ssl
import struct
import sys
import time
import zlib

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # the RFC 6455 sample key (16 bytes)
MASK = b"\x37\xfa\x21\x3d"        # fixed masking key, so captures are comparable
TIMEOUT = 3.0


def log(*args):
    print("rawpeer:", *args, file=sys.stderr, flush=True)


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


# ------------------------------------------------------------------ frames

def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None, width=None):
    """Build one frame. rsv is a 3-bit value (4 = RSV1, 2 = RSV2, 1 = RSV3).
    length overrides the announced payload length; width forces the length
    encoding: 7, 16 or 64 bits."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    mbit = 0x80 if mask else 0
    if width is None:
        width = 7 if n < 126 else 16 if n < 65536 else 64
    if width == 7:
        head = bytes([b0, mbit | n])
    elif width == 16:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if mask:
        body = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
        return head + MASK + body
    return head + payload


def deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def parse_frames(buf):
    """Parse as many complete frames as buf holds; returns (frames, rest)."""
    frames = []
    while len(buf) >= 2:
        b0, b1 = buf[0], buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            if len(buf) < 4:
                break
            n = struct.unpack("!H", buf[2:4])[0]
            pos = 4
        elif n == 127:
            if len(buf) < 10:
                break
            n = struct.unpack("!Q", buf[2:10])[0]
            pos = 10
        key = None
        if b1 & 0x80:
            if len(buf) < pos + 4:
                break
            key = buf[pos:pos + 4]
            pos += 4
        if len(buf) < pos + n:
            break
        payload = buf[pos:pos + n]
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        frames.append((b0 & 0x80 != 0, (b0 >> 4) & 7, b0 & 0x0F, key is not None, payload))
        buf = buf[pos + n:]
    return frames, buf


def describe(f):
    fin, rsv, op, masked, payload = f
    name = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}.get(op, f"opcode {op}")
    extra = ""
    if op == 8 and len(payload) >= 2:
        code = struct.unpack("!H", payload[:2])[0]
        extra = f" code {code} reason {payload[2:].decode(errors='replace')!r}"
    elif op in (1, 2, 9, 10):
        extra = f" {payload[:40]!r}{'...' if len(payload) > 40 else ''}"
    return f"{name} fin={int(fin)} rsv={rsv} masked={int(masked)} len={len(payload)}{extra}"


def drain(sock, label="peer", expect_http=False):
    """Read until EOF or timeout and log what the real peer sent."""
    buf = b""
    sock.settimeout(TIMEOUT)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                log(f"{label} closed the TCP connection")
                break
            buf += chunk
    except socket.timeout:
        log(f"{label}: no more data after {TIMEOUT}s")
    except ConnectionResetError:
        log(f"{label} reset the TCP connection")
    if expect_http and buf.startswith(b"HTTP/"):
        head, _, buf = buf.partition(b"\r\n\r\n")
        log(f"{label} sent HTTP: {head.decode(errors='replace')!r}")
    frames, rest = parse_frames(buf)
    for f in frames:
        log(f"{label} sent {describe(f)}")
    if rest:
        log(f"{label} sent {len(rest)} unparsed bytes: {rest[:60]!r}")
    return frames


# ------------------------------------------------------------------ client side

class RawClient:
    def __init__(self, args):
        self.args = args
        self.sock = socket.create_connection((args.host, args.port), timeout=TIMEOUT)

    def send(self, data):
        self.sock.sendall(data)

    def handshake(self, key=KEY, version="13", extensions=None, extra="", path=None):
        req = (f"GET {path or '/' + self.args.scenario} HTTP/1.1\r\n"
               f"Host: {self.args.host}:{self.args.port}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n")
        if extensions:
            req += f"Sec-WebSocket-Extensions: {extensions}\r\n"
        req += extra + "User-Agent: wscap-rawpeer\r\n\r\n"
        self.send(req.encode())
        return self.read_response()

    def read_response(self):
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                buf += chunk
        except socket.timeout:
            pass
        head, _, rest = buf.partition(b"\r\n\r\n")
        log("server answered:", repr(head.decode(errors="replace")))
        self.leftover = rest
        return head.split(b"\r\n", 1)[0].decode(errors="replace")

    def recv_frames(self, n):
        """Read until n complete frames have arrived (after the upgrade)."""
        buf = getattr(self, "leftover", b"")
        got, _ = parse_frames(buf)
        while len(got) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            buf += chunk
            got, _ = parse_frames(buf)
        self.leftover = b""
        for f in got:
            log("server sent", describe(f))
        return got

    def upgrade(self, **kw):
        status = self.handshake(**kw)
        if " 101 " not in status + " ":
            raise SystemExit(f"expected 101, got {status!r}")

    def finish(self):
        drain(self.sock, "server")
        self.sock.close()


def tls_client_hello():
    """A genuine TLS ClientHello from Python's ssl module (memory BIOs)."""
    ctx = ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def garbage(n, seed=6455):
    return random.Random(seed).randbytes(n)


TEXT, BIN, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


def c_unmasked_client_frame(c):
    c.upgrade()
    c.send(frame(TEXT, b"hello, not masked", mask=False))


def c_reserved_opcode(c):
    c.upgrade()
    c.send(frame(0x3, b"opcode three"))


def c_rsv_bits_without_extension(c):
    c.upgrade()
    c.send(frame(TEXT, b"rsv2 is set", rsv=2))


def c_control_frame_too_long(c):
    c.upgrade()
    c.send(frame(PING, b"p" * 126))


def c_fragmented_control_frame(c):
    c.upgrade()
    c.send(frame(PING, b"half a ping", fin=False))
    c.send(frame(CONT, b" and the rest"))


def c_non_minimal_length(c):
    c.upgrade()
    c.send(frame(TEXT, b"ten bytes!", width=16))  # 10 B payload with 16-bit length
    c.send(frame(TEXT, b"minimal", width=7))
    c.send(frame(CLOSE, close_payload(1000)))


def c_length_msb_set(c):
    c.upgrade()
    # 64-bit length 0x800000000000000A: MSB set (RFC 6455 5.2: MUST be 0).
    c.send(frame(BIN, b"0123456789", length=0x8000000000000000 | 10, width=64))


def c_continuation_without_start(c):
    c.upgrade()
    c.send(frame(CONT, b"orphan continuation"))


def c_data_frame_during_fragmentation(c):
    c.upgrade()
    c.send(frame(TEXT, b"first part ", fin=False))
    c.send(frame(TEXT, b"a new message while the first is open"))


def c_invalid_utf8(c):
    c.upgrade()
    c.send(frame(TEXT, b"bad utf-8: \xc3\x28 and \xff"))


def c_ok_utf8_split(c):
    c.upgrade()
    # "€" is E2 82 AC: split it across two fragments (valid overall).
    c.send(frame(TEXT, b"price: 5 \xe2\x82", fin=False))
    c.send(frame(CONT, b"\xac, caf\xc3", fin=False))
    c.send(frame(CONT, b"\xa9 ok"))
    time.sleep(0.3)
    c.send(frame(CLOSE, close_payload(1000, b"utf8 ok")))


def c_invalid_close_code(c):
    c.upgrade()
    c.send(frame(CLOSE, close_payload(1005, b"1005 must not be sent")))


def c_close_payload_length_one(c):
    c.upgrade()
    c.send(frame(CLOSE, b"\x03"))


def c_data_after_close(c):
    c.upgrade()
    c.send(frame(CLOSE, close_payload(1000, b"bye")) + frame(TEXT, b"data after my close"))


def c_rsv1_on_continuation(c):
    c.upgrade(extensions="permessage-deflate")
    c.send(frame(TEXT, deflate(b"compressed first fragment, "), fin=False, rsv=4))
    c.send(frame(CONT, b"second fragment with RSV1", rsv=4))


def c_rsv1_on_control_frame(c):
    c.upgrade(extensions="permessage-deflate")
    c.send(frame(TEXT, deflate(b"a good compressed message"), rsv=4))
    time.sleep(0.3)
    c.send(frame(PING, b"ping with rsv1", rsv=4))


def c_deflate_error(c):
    c.upgrade(extensions="permessage-deflate")
    c.send(frame(TEXT, b"\xff\xfe\xfd this is not deflate data \x00\x01", rsv=4))


def c_decompression_limit_exceeded(c):
    c.upgrade(extensions="permessage-deflate")
    # 80 MiB of one byte deflates to about 80 KB: a small frame on the wire
    # that inflates far beyond the receiver's limits (a "deflate bomb").
    n = 80 * 1024 * 1024
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"A" * (1024 * 1024)
    out = b"".join(z.compress(chunk) for _ in range(n // len(chunk)))
    out += z.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    out = out[:-4]
    log(f"sending a {n}-byte text message compressed to {len(out)} bytes")
    c.send(frame(TEXT, out, rsv=4))


def c_bad_websocket_version(c):
    c.handshake(version="8")


def c_bad_websocket_key(c):
    c.handshake(key=base64.b64encode(b"0123456789").decode())  # 10 bytes


def c_tls_on_plaintext_port(c):
    c.send(tls_client_hello())


def c_tls_in_websocket_stream(c):
    c.upgrade()
    c.send(frame(TEXT, b"hello before TLS"))
    time.sleep(0.2)
    c.send(tls_client_hello())


def c_unparseable_frame_data(c):
    c.upgrade()
    c.send(frame(TEXT, b"one good frame"))
    time.sleep(0.2)
    # 0xf7: FIN + RSV1-3 + opcode 7, then random bytes.
    c.send(b"\xf7" + garbage(200))


def c_frame_exceeds_limit(c):
    c.upgrade()
    # Announce 2 MiB to a server whose limit is 1 MiB; send only the first
    # 4 KiB of payload (the server reacts to the header).
    payload = b"A" * 4096
    head = frame(BIN, b"", length=2 * 1024 * 1024, width=64)
    c.send(head + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload)))


def c_incomplete_frame_at_end(c):
    c.upgrade()
    c.send(frame(TEXT, b"a complete frame"))
    time.sleep(0.2)
    # 1000-byte text frame of which only the header and 300 bytes are sent.
    full = frame(TEXT, b"i" * 1000)
    c.send(full[:8 + 300])
    print("PARTIAL-SENT", flush=True)
    time.sleep(10)  # the capture is stopped during this sleep


def c_rsv_all_on_ping(c):
    c.upgrade()
    # Ping with RSV1, RSV2 and RSV3 all set (first byte 0xf9).
    c.send(frame(PING, b"rsv 1+2+3", rsv=7))


def c_unmasked_in_flight(c):
    # The server (pypeer.py, path /stream) sends a 100-byte text frame every
    # 2 ms; after the first three have arrived, one unmasked text frame goes
    # the other way while the server is still sending.
    c.upgrade(path="/stream")
    c.recv_frames(3)
    c.send(frame(TEXT, b"unmasked while you stream", mask=False))
    log("sent the unmasked text frame")


def c_empty_close(c):
    c.upgrade()
    c.send(frame(TEXT, b"one message, then an empty close"))
    c.recv_frames(1)
    c.send(frame(CLOSE, b""))  # close frame without status code


# ------------------------------------------------------------------ server side

class RawServer:
    def __init__(self, args):
        self.args = args
        fam = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        self.lsock = socket.socket(fam, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((args.host, args.port))
        self.lsock.listen(1)
        self.lsock.settimeout(15)
        print("READY", flush=True)
        self.sock, _ = self.lsock.accept()
        self.sock.settimeout(TIMEOUT)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            buf += chunk
        head = buf.partition(b"\r\n\r\n")[0].decode(errors="replace")
        log("client requested:", repr(head))
        self.headers = {}
        for line in head.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.key = self.headers.get("sec-websocket-key", "")

    def send(self, data):
        self.sock.sendall(data)

    def respond(self, status="101 Switching Protocols", upgrade=True, connection=True,
                accept=None, extra=""):
        r = f"HTTP/1.1 {status}\r\n"
        if upgrade:
            r += "Upgrade: websocket\r\n"
        if connection:
            r += "Connection: Upgrade\r\n"
        r += f"Sec-WebSocket-Accept: {accept or accept_for(self.key)}\r\n" + extra + "\r\n"
        self.send(r.encode())

    def read_frames(self, n=1):
        buf = b""
        got = []
        try:
            while len(got) < n:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                got, _ = parse_frames(buf)
        except socket.timeout:
            pass
        for f in got:
            log("client sent", describe(f))
        return got

    def finish(self):
        # Read what the real client sends; answer its close frame like a
        # well-behaved server would, then close the TCP connection.
        buf = b""
        self.sock.settimeout(TIMEOUT)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    log("client closed the TCP connection")
                    break
                buf += chunk
                frames, _ = parse_frames(buf)
                if any(f[2] == CLOSE for f in frames):
                    code = next(f[4][:2] for f in frames if f[2] == CLOSE)
                    self.send(frame(CLOSE, code, mask=False))
                    break
        except socket.timeout:
            log(f"client: no more data after {TIMEOUT}s")
        except ConnectionResetError:
            log("client reset the TCP connection")
        frames, rest = parse_frames(buf)
        for f in frames:
            log("client sent", describe(f))
        if rest:
            log(f"client sent {len(rest)} unparsed bytes")
        self.sock.close()
        self.lsock.close()


def s_masked_server_frame(s):
    s.respond()
    s.read_frames(1)
    s.send(frame(TEXT, b"masked by the server", mask=True))


def s_handshake_rejected(s):
    body = b"forbidden\n"
    s.send(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
           b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))


def s_upgrade_header_missing(s):
    s.respond(upgrade=False)


def s_connection_header_missing(s):
    s.respond(connection=False)


def s_bad_accept_key(s):
    s.respond(accept=accept_for("x3JJHMbDL1EzLkh9GBhXDw=="))  # accept of another key


def s_extension_not_offered(s):
    s.respond(extra="Sec-WebSocket-Extensions: permessage-deflate\r\n")


def s_subprotocol_not_offered(s):
    s.respond(extra="Sec-WebSocket-Protocol: mqtt\r\n")


def s_http_in_websocket_stream(s):
    s.respond()
    s.read_frames(1)
    body = b"bad request\n"
    s.send(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


def s_cut_after_frame(s):
    # 101, read the client's message, send one text frame and close the TCP
    # connection at once: FIN right after the frame, no close frame.
    s.respond()
    s.read_frames(1)
    s.send(frame(TEXT, b"last frame, then FIN without a close frame", mask=False))
    s.sock.close()
    log("closed the TCP connection right after the frame")
    s.finish = s.lsock.close


CLIENT = {k[2:]: v for k, v in globals().items() if k.startswith("c_")}
SERVER = {k[2:]: v for k, v in globals().items() if k.startswith("s_")}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["client", "server", "list"])
    p.add_argument("scenario", nargs="?")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int)
    args = p.parse_args()
    if args.role == "list":
        for k in CLIENT:
            print("client", k)
        for k in SERVER:
            print("server", k)
        return
    if args.role == "client":
        c = RawClient(args)
        CLIENT[args.scenario](c)
        c.finish()
    else:
        s = RawServer(args)
        SERVER[args.scenario](s)
        s.finish()


if __name__ == "__main__":
    main()
