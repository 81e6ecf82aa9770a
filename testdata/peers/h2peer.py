#!/usr/bin/env python3
"""WebSocket over HTTP/2 (RFC 8441, extended CONNECT) between real programs,
for the captures in testdata/h2/ (make-h2-captures.sh).

Sub-commands:
  server    hypercorn serving a tiny ASGI app: a WebSocket echo on any path
            but /reject (refused with 404 through the ASGI "websocket.http
            .response" extension) and a short text body for plain HTTP GETs
            but /ws-page.html (peers/h2-chromium.html, for a browser) and
            /wait-ws (answered once a WebSocket has closed).
            Cleartext h2c with prior knowledge, or TLS with ALPN h2 only
            (--cert/--key).
  h2server  a hand-written server on the python `h2` library that does NOT
            enable extended CONNECT: SETTINGS_ENABLE_CONNECT_PROTOCOL left
            out of its SETTINGS (or, --connect-setting zero, sent as 0, which
            is what h2 does by default); it resets any extended CONNECT
            (RST_STREAM PROTOCOL_ERROR; h2 itself accepts the request) and
            answers a GET with 200.
  client    the `h2` library for HTTP/2 and `wsproto` (frame layer only, no
            HTTP/1.1 handshake) for the WebSocket frames, client frames
            masked; --scenario picks the fixed list of messages
            (proxy-echo: echo with 20,000 B instead of 70,000 B, for the
            captures through HAProxy, which hold both legs).

Servers print "READY" on stdout once listening and exit by themselves after
--lifetime seconds (25 by default, so within 30 s even with hypercorn's
one-second graceful shutdown). With --keylog the client writes the NSS key
log of its TLS connection (SSLContext.keylog_filename).
"""
import argparse
import asyncio
import functools
import logging
import os
import ssl
import sys

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

TIMEOUT = 10


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def setting_name(code):
    try:
        return h2.settings.SettingCodes(code).name
    except ValueError:
        return f"0x{code:x}"


# --- the hypercorn server ----------------------------------------------------

PLAIN_BODY = b"hello from hypercorn over h2\n"
REJECT_BODY = b"no WebSocket at /reject\n"


async def asgi_app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif scope["type"] == "http":
        while (await receive()).get("more_body"):
            pass
        if scope["path"] in PAGES:
            await send_page(scope["path"], send)
            return
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"),
                        (b"content-length", b"%d" % len(PLAIN_BODY))],
        })
        await send({"type": "http.response.body", "body": PLAIN_BODY})
    elif scope["type"] == "websocket":
        message = await receive()
        assert message["type"] == "websocket.connect"
        log(f"app: websocket {scope['path']} http_version {scope['http_version']}")
        if scope["path"] == "/reject":
            await send({
                "type": "websocket.http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"text/plain")],
            })
            await send({"type": "websocket.http.response.body", "body": REJECT_BODY})
            return
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                log(f"app: {scope['path']} disconnected, code {message.get('code')}")
                WS_CLOSED.set()
                return
            if message.get("bytes") is not None:
                await send({"type": "websocket.send", "bytes": message["bytes"]})
            else:
                await send({"type": "websocket.send", "text": message["text"]})


# For the h2-chromium scenario: GET /ws-page.html is peers/h2-chromium.html
# (a page whose script opens a WebSocket to the same origin); GET /wait-ws,
# an image in that page, is answered (a 1x1 GIF) 3 s after a WebSocket has
# disconnected (or after 10 s), so that the browser's load event comes after
# the WebSocket exchange.
PAGES = {"/ws-page.html", "/wait-ws"}
GIF1X1 = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c"
                       "00000000010001000002024401003b")
WS_CLOSED = asyncio.Event()


async def send_page(path, send):
    if path == "/ws-page.html":
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "h2-chromium.html"), "rb") as f:
            body, ctype = f.read(), b"text/html; charset=utf-8"
    else:
        try:
            await asyncio.wait_for(WS_CLOSED.wait(), 10)
        except asyncio.TimeoutError:
            log("app: /wait-ws: no WebSocket closed within 10 s")
        # Chromium fires onclose only once the stream is gone: hypercorn
        # never ends its side, so Chromium resets the stream 2 s after the
        # close handshake. 3 s more, then, before the load event.
        await asyncio.sleep(3)
        body, ctype = GIF1X1, b"image/gif"
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", ctype), (b"content-length", b"%d" % len(body)),
                    (b"cache-control", b"no-store")],
    })
    await send({"type": "http.response.body", "body": body})


class ReadyHandler(logging.Handler):
    """Prints READY on stdout when hypercorn says it is listening."""

    def emit(self, record):
        if record.getMessage().startswith("Running on"):
            print("READY", flush=True)


async def run_hypercorn(args):
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.graceful_timeout = 1
    # Logger objects (not "-"): hypercorn then keeps their handlers.
    for name in ("error", "access"):
        logger = logging.getLogger(f"h2peer.{name}")
        logger.addHandler(logging.StreamHandler(sys.stderr))
        logger.setLevel(logging.INFO)
    logging.getLogger("h2peer.error").addHandler(ReadyHandler())
    config.errorlog = logging.getLogger("h2peer.error")
    config.accesslog = logging.getLogger("h2peer.access")
    if args.cert:
        config.certfile = args.cert
        config.keyfile = args.key
        config.alpn_protocols = ["h2"]
    await serve(asgi_app, config,
                shutdown_trigger=functools.partial(asyncio.sleep, args.lifetime))


# --- the hand-written h2 server ----------------------------------------------

async def h2server_conn(reader, writer, connect_setting):
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding=None))
    # h2 puts every setting it knows into its first SETTINGS frame,
    # ENABLE_CONNECT_PROTOCOL=0 included; "absent" takes that one out.
    if connect_setting == "absent":
        del conn.local_settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL]
    conn.initiate_connection()
    log("h2server: local SETTINGS " + ", ".join(
        f"{setting_name(k)}={v}" for k, v in conn.local_settings.items()))
    writer.write(conn.data_to_send())
    await writer.drain()
    while True:
        data = await reader.read(65536)
        if not data:
            break
        for ev in conn.receive_data(data):
            log(f"h2server: {ev}")
            if isinstance(ev, h2.events.RequestReceived):
                headers = dict(ev.headers)
                enabled = conn.local_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
                if b":protocol" in headers and not enabled:
                    # h2 delivers the request without complaint; RFC 8441
                    # section 3 makes :protocol unknown to this endpoint, so
                    # the request is malformed (RFC 9113 section 8.1.1).
                    log(f"h2server: :protocol {headers[b':protocol']!r} without"
                        " SETTINGS_ENABLE_CONNECT_PROTOCOL: RST_STREAM PROTOCOL_ERROR")
                    conn.reset_stream(ev.stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
                else:
                    conn.send_headers(ev.stream_id, [(b":status", b"200"),
                                                     (b"content-type", b"text/plain")])
                    conn.send_data(ev.stream_id, b"hello from h2server\n", end_stream=True)
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        writer.write(conn.data_to_send())
        await writer.drain()
        if conn.state_machine.state == h2.connection.ConnectionState.CLOSED:
            break
    writer.close()
    log("h2server: connection closed")


async def run_h2server(args):
    server = await asyncio.start_server(
        functools.partial(h2server_conn, connect_setting=args.connect_setting),
        args.host, args.port)
    print("READY", flush=True)
    async with server:
        await asyncio.sleep(args.lifetime)


# --- the client ----------------------------------------------------------------

class Closed(Exception):
    pass


class Stream:
    """One HTTP/2 stream: its events from the reader task, and a wsproto
    connection (client side, frame layer only) for the WebSocket on it."""

    def __init__(self, peer, sid):
        self.peer = peer
        self.sid = sid
        self.q = asyncio.Queue()
        self.ws = Connection(ConnectionType.CLIENT)
        self.pending = []
        self.ended = False
        self.end_sent = False
        self.reset = None

    async def next_h2(self):
        return await asyncio.wait_for(self.q.get(), TIMEOUT)

    async def response(self):
        ev = await self.next_h2()
        if isinstance(ev, h2.events.ResponseReceived):
            status = dict(ev.headers)[b":status"]
            log(f"client: stream {self.sid}: response {ev.headers}")
            return int(status)
        if isinstance(ev, h2.events.StreamReset):
            self.reset = ev.error_code
            log(f"client: stream {self.sid}: RST_STREAM {ev.error_code!r} instead of a response")
            return None
        raise Closed(f"stream {self.sid}: {ev} instead of a response")

    async def body(self):
        out = b""
        while True:
            ev = await self.next_h2()
            if isinstance(ev, h2.events.DataReceived):
                out += ev.data
            if isinstance(ev, h2.events.StreamEnded):
                self.ended = True
                return out
            if isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                raise Closed(f"stream {self.sid}: {ev}")

    async def ws_event(self, timeout=TIMEOUT):
        """The next whole WebSocket event (messages reassembled)."""
        parts = []
        while True:
            while self.pending:
                ev = self.pending.pop(0)
                if isinstance(ev, (TextMessage, BytesMessage)):
                    parts.append(ev.data)
                    if not ev.message_finished:
                        continue
                    data = "".join(parts) if isinstance(ev, TextMessage) else b"".join(parts)
                    return type(ev)(data=data)
                return ev
            ev = await asyncio.wait_for(self.q.get(), timeout)
            if isinstance(ev, h2.events.DataReceived):
                self.ws.receive_data(ev.data)
                self.pending.extend(self.ws.events())
            elif isinstance(ev, h2.events.StreamEnded):
                self.ended = True
                raise Closed(f"stream {self.sid}: END_STREAM from the server")
            elif isinstance(ev, h2.events.StreamReset):
                self.reset = ev.error_code
                raise Closed(f"stream {self.sid}: RST_STREAM {ev.error_code!r}")
            elif isinstance(ev, h2.events.ConnectionTerminated):
                raise Closed(f"stream {self.sid}: GOAWAY {ev.error_code!r}")

    async def send_ws(self, event):
        await self.peer.send_data(self.sid, self.ws.send(event))

    async def echo(self, message):
        await self.send_ws(message)
        await self.expect_echo(message)

    async def expect_echo(self, message):
        got = await self.ws_event()
        if type(got) is not type(message) or got.data != message.data:
            raise Closed(f"stream {self.sid}: expected the echo of {describe(message)}, got {describe(got)}")
        log(f"client: stream {self.sid}: echo of {describe(message)}")

    async def ping(self, payload):
        await self.send_ws(Ping(payload=payload))
        got = await self.ws_event()
        if not isinstance(got, Pong) or got.payload != payload:
            raise Closed(f"stream {self.sid}: expected a pong, got {describe(got)}")
        log(f"client: stream {self.sid}: pong {payload!r}")

    async def close(self, code=1000, reason="done"):
        """The close frame in a DATA frame that also carries END_STREAM (the
        WebSocket close and the half-close of the stream together), then the
        server's close. (An END_STREAM sent later, in an empty DATA frame
        after the server's close, makes hypercorn 0.18.0 drop the whole
        connection: its h2 layer has forgotten the stream by then and fails
        with KeyError on the DATA frame.)"""
        await self.peer.send_data(self.sid, self.ws.send(CloseConnection(code=code, reason=reason)),
                                  end_stream=True)
        self.end_sent = True
        log(f"client: stream {self.sid}: close {code} {reason!r} + END_STREAM sent")
        await self.expect_close()

    async def expect_close(self):
        got = await self.ws_event()
        if not isinstance(got, CloseConnection):
            raise Closed(f"stream {self.sid}: expected a close, got {describe(got)}")
        log(f"client: stream {self.sid}: close {got.code} {got.reason!r} from the server")

    async def end(self, wait=2.0):
        """END_STREAM (an empty DATA frame) unless sent already, then up to
        `wait` seconds for the server's END_STREAM or RST_STREAM."""
        if not self.end_sent:
            await self.peer.end_stream(self.sid)
            self.end_sent = True
            log(f"client: stream {self.sid}: END_STREAM sent")
        while not self.ended and self.reset is None:
            try:
                ev = await asyncio.wait_for(self.q.get(), wait)
            except asyncio.TimeoutError:
                log(f"client: stream {self.sid}: no END_STREAM from the server within {wait} s")
                return
            if isinstance(ev, h2.events.StreamEnded):
                self.ended = True
                log(f"client: stream {self.sid}: END_STREAM from the server")
            elif isinstance(ev, h2.events.StreamReset):
                self.reset = ev.error_code
                log(f"client: stream {self.sid}: RST_STREAM {ev.error_code!r} from the server")
            elif isinstance(ev, h2.events.ConnectionTerminated):
                return
            else:
                log(f"client: stream {self.sid}: {ev}")


def describe(ev):
    if isinstance(ev, (TextMessage, BytesMessage)):
        kind = "text" if isinstance(ev, TextMessage) else "binary"
        return f"{kind} {len(ev.data)} B"
    return repr(ev)


class Peer:
    def __init__(self, reader, writer, authority, scheme):
        self.reader = reader
        self.writer = writer
        self.authority = authority.encode()
        self.scheme = scheme.encode()
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.streams = {}
        self.window = asyncio.Event()
        self.settings = asyncio.Event()
        self.task = None

    async def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def start(self):
        self.conn.initiate_connection()
        log("client: local SETTINGS " + ", ".join(
            f"{setting_name(k)}={v}" for k, v in self.conn.local_settings.items()))
        await self.flush()
        self.task = asyncio.create_task(self.read_loop())

    async def read_loop(self):
        while True:
            data = await self.reader.read(65536)
            if not data:
                log("client: the server closed the TCP connection")
                for s in self.streams.values():
                    s.q.put_nowait(h2.events.ConnectionTerminated())
                return
            for ev in self.conn.receive_data(data):
                self.dispatch(ev)
            await self.flush()

    def dispatch(self, ev):
        sid = getattr(ev, "stream_id", None)
        if isinstance(ev, h2.events.DataReceived):
            # Give the flow-control credit back at once (h2 sends
            # WINDOW_UPDATE when enough has been consumed).
            self.conn.acknowledge_received_data(ev.flow_controlled_length, sid)
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            log("client: server SETTINGS " + ", ".join(
                f"{setting_name(k)}={v.new_value}" for k, v in ev.changed_settings.items()))
            self.settings.set()
            return
        elif isinstance(ev, h2.events.WindowUpdated):
            self.window.set()
            return
        elif isinstance(ev, h2.events.ConnectionTerminated):
            log(f"client: GOAWAY from the server: {ev}")
            for s in self.streams.values():
                s.q.put_nowait(ev)
            return
        if sid in self.streams:
            self.streams[sid].q.put_nowait(ev)
        elif not isinstance(ev, (h2.events.SettingsAcknowledged, h2.events.StreamEnded)):
            log(f"client: {ev}")

    async def wait_settings(self, require_connect=True):
        await asyncio.wait_for(self.settings.wait(), TIMEOUT)
        enabled = self.conn.remote_settings.enable_connect_protocol
        log(f"client: server SETTINGS_ENABLE_CONNECT_PROTOCOL = {enabled}")
        if require_connect and enabled != 1:
            raise Closed("the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL=1")
        return enabled

    def headers(self, method, path, extra=()):
        h = [(b":method", method)]
        if method == b"CONNECT":
            h.append((b":protocol", b"websocket"))
        h += [(b":scheme", self.scheme), (b":path", path.encode()),
              (b":authority", self.authority)]
        if method == b"CONNECT":
            h.append((b"sec-websocket-version", b"13"))
        h.append((b"user-agent", b"wscap-h2peer/1"))
        return h + list(extra)

    async def open(self, method, path, end_stream=False):
        sid = self.conn.get_next_available_stream_id()
        self.streams[sid] = Stream(self, sid)
        hdrs = self.headers(method, path)
        self.conn.send_headers(sid, hdrs, end_stream=end_stream)
        await self.flush()
        log(f"client: stream {sid}: {method.decode()} {path}")
        return self.streams[sid]

    async def open_ws(self, path, expect=200):
        s = await self.open(b"CONNECT", path)
        status = await s.response()
        if expect is not None and status != expect:
            raise Closed(f"stream {s.sid}: status {status}, expected {expect}")
        return s

    async def send_data(self, sid, data, end_stream=False):
        """DATA frames of at most the peer's SETTINGS_MAX_FRAME_SIZE, waiting
        for WINDOW_UPDATE when the flow-control window is used up."""
        view = memoryview(data)
        while view:
            self.window.clear()
            n = min(self.conn.local_flow_control_window(sid),
                    self.conn.max_outbound_frame_size, len(view))
            if n <= 0:
                await asyncio.wait_for(self.window.wait(), TIMEOUT)
                continue
            last = n == len(view)
            self.conn.send_data(sid, bytes(view[:n]), end_stream=end_stream and last)
            view = view[n:]
            await self.flush()
        if end_stream and not data:
            self.conn.end_stream(sid)
            await self.flush()

    async def end_stream(self, sid):
        self.conn.end_stream(sid)
        await self.flush()

    async def send_raw_data(self, sid, data):
        self.conn.send_data(sid, data)
        await self.flush()

    async def goaway(self):
        self.conn.close_connection()
        await self.flush()
        log("client: GOAWAY sent")
        await asyncio.sleep(0.2)
        self.task.cancel()
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass


# The messages. BIG is one text message of 70,000 bytes: more than four
# DATA frames of 16,384 bytes and more than the 65,535-byte initial window.
SHORT = "hello over h2"
TEXT200 = "".join(chr(ord("a") + i % 26) for i in range(200))
BIG = "".join("%07d," % i for i in range(8750))  # 70000 B
assert len(BIG) == 70000
BINARY = bytes([0, 1, 2, 3, 0x7F, 0x80, 0xFE, 0xFF]) * 2
# MEDIUM: 20,000 bytes, one WebSocket frame in two DATA frames (16,384 +
# 3,624) but within the initial window: for the captures through a proxy,
# which hold every message twice (both legs) and must stay small.
MEDIUM = "".join("%07d," % i for i in range(2500))  # 20000 B
assert len(MEDIUM) == 20000


async def scenario_echo(peer, args):
    await peer.wait_settings()
    s = await peer.open_ws("/echo")
    await s.echo(TextMessage(data=SHORT))
    await s.echo(TextMessage(data=TEXT200))
    await s.echo(TextMessage(data=BIG))
    await s.echo(BytesMessage(data=BINARY))
    await s.ping(b"h2-ping")
    await s.close(1000, "done")
    await s.end()


async def scenario_proxy_echo(peer, args):
    """scenario_echo with MEDIUM instead of BIG (through a proxy)."""
    await peer.wait_settings()
    s = await peer.open_ws("/echo")
    await s.echo(TextMessage(data=SHORT))
    await s.echo(TextMessage(data=TEXT200))
    await s.echo(TextMessage(data=MEDIUM))
    await s.echo(BytesMessage(data=BINARY))
    await s.ping(b"h2-ping")
    await s.close(1000, "done")
    await s.end()


async def scenario_two_streams(peer, args):
    await peer.wait_settings()
    # Both CONNECTs go out before either answer is read: two WebSocket
    # streams open at once (1 and 3).
    a = await peer.open(b"CONNECT", "/chat/alice")
    b = await peer.open(b"CONNECT", "/chat/bob")
    for s in (a, b):
        if await s.response() != 200:
            raise Closed(f"stream {s.sid} refused")
    for i in range(3):
        ma = TextMessage(data=f"alice says {i}")
        mb = TextMessage(data=f"bob says {i}")
        await a.send_ws(ma)
        await b.send_ws(mb)
        await a.expect_echo(ma)
        await b.expect_echo(mb)
    # An ordinary GET on stream 5 while both WebSockets are open.
    g = await peer.open(b"GET", "/plain", end_stream=True)
    status = await g.response()
    body = await g.body()
    log(f"client: stream {g.sid}: GET /plain -> {status} {body!r}")
    ma = BytesMessage(data=b"alice-bin" + BINARY)
    mb = BytesMessage(data=b"bob-bin" + BINARY)
    await b.send_ws(mb)
    await a.send_ws(ma)
    await b.expect_echo(mb)
    await a.expect_echo(ma)
    for s, reason in ((a, "alice done"), (b, "bob done")):
        await peer.send_data(s.sid, s.ws.send(CloseConnection(code=1000, reason=reason)),
                             end_stream=True)
        s.end_sent = True
        log(f"client: stream {s.sid}: close 1000 {reason!r} + END_STREAM sent")
    await a.expect_close()
    await b.expect_close()
    await a.end()
    await b.end()


async def scenario_no_enable_connect(peer, args):
    enabled = await peer.wait_settings(require_connect=False)
    if enabled:
        raise Closed("this scenario wants a server without ENABLE_CONNECT_PROTOCOL")
    log("client: sending the extended CONNECT anyway (RFC 8441 section 3 violation)")
    s = await peer.open(b"CONNECT", "/echo")
    status = await s.response()
    if status is None:
        log(f"client: stream {s.sid} was reset: {s.reset!r}")
    else:
        log(f"client: stream {s.sid}: status {status}")
        if status == 200:
            await s.echo(TextMessage(data=SHORT))
            await s.close(1000, "done")
            await s.end()


async def scenario_rejected(peer, args):
    await peer.wait_settings()
    s = await peer.open_ws("/reject", expect=404)
    body = await s.body()
    log(f"client: stream {s.sid}: refused with 404, body {body!r}")


def raw_frame(opcode, payload):
    """One unmasked WebSocket frame (FIN set, MASK bit clear)."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big")
    return head + payload


async def scenario_unmasked(peer, args):
    await peer.wait_settings()
    s = await peer.open_ws("/echo")
    # Unmasked client frames, written by hand (RFC 6455 section 5.1: the
    # server must close the connection).
    await peer.send_raw_data(s.sid, raw_frame(1, b"unmasked text over h2"))
    log(f"client: stream {s.sid}: unmasked text frame sent")
    try:
        got = await s.ws_event(timeout=1.5)
        log(f"client: stream {s.sid}: the server answered {describe(got)}")
        if isinstance(got, CloseConnection):
            # Answer the close (unmasked too), with END_STREAM.
            payload = got.code.to_bytes(2, "big") if got.code else b""
            peer.conn.send_data(s.sid, raw_frame(8, payload), end_stream=True)
            await peer.flush()
            log(f"client: stream {s.sid}: unmasked close {got.code} + END_STREAM sent back")
            await s.end()
            return
    except asyncio.TimeoutError:
        log(f"client: stream {s.sid}: no answer from the server within 1.5 s")
    except Closed as exc:
        log(f"client: {exc}")
        return
    # No close from the server: close unmasked, with END_STREAM.
    peer.conn.send_data(s.sid, raw_frame(8, (1000).to_bytes(2, "big") + b"done"),
                        end_stream=True)
    await peer.flush()
    log(f"client: stream {s.sid}: unmasked close 1000 'done' + END_STREAM sent")
    try:
        got = await s.ws_event(timeout=2)
        log(f"client: stream {s.sid}: the server answered {describe(got)}")
    except (asyncio.TimeoutError, Closed) as exc:
        log(f"client: stream {s.sid}: {exc!r}")


SCENARIOS = {
    "echo": scenario_echo,
    "proxy-echo": scenario_proxy_echo,
    "two-streams": scenario_two_streams,
    "no-enable-connect": scenario_no_enable_connect,
    "rejected": scenario_rejected,
    "unmasked": scenario_unmasked,
}


async def run_client(args):
    ctx = None
    authority = f"{args.host}:{args.port}"
    scheme = "http"
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_verify_locations(args.tls)
        ctx.set_alpn_protocols(["h2"])
        if args.keylog:
            ctx.keylog_filename = args.keylog
        authority = f"{args.sni}:{args.port}"
        scheme = "https"
    reader, writer = await asyncio.open_connection(
        args.host, args.port, ssl=ctx, server_hostname=args.sni if ctx else None)
    if ctx:
        sslobj = writer.get_extra_info("ssl_object")
        log(f"client: {sslobj.version()} {sslobj.cipher()[0]}, ALPN {sslobj.selected_alpn_protocol()}")
        if sslobj.selected_alpn_protocol() != "h2":
            raise SystemExit("client: the server did not choose ALPN h2")
    peer = Peer(reader, writer, authority, scheme)
    await peer.start()
    try:
        await SCENARIOS[args.scenario](peer, args)
    finally:
        await peer.goaway()
    log(f"client: scenario {args.scenario} done")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("server", "h2server", "client"):
        q = sub.add_parser(name)
        q.add_argument("--host", default="127.0.0.1")
        q.add_argument("--port", type=int, required=True)
        if name != "client":
            q.add_argument("--lifetime", type=float, default=25.0,
                           help="exit after this many seconds (default 25; hypercorn"
                           " then takes at most 1 s more to shut down)")
        if name == "server":
            q.add_argument("--cert", help="TLS certificate (PEM): TLS with ALPN h2")
            q.add_argument("--key", help="its private key (PEM)")
        if name == "h2server":
            q.add_argument("--connect-setting", choices=("absent", "zero"), default="absent",
                           help="leave SETTINGS_ENABLE_CONNECT_PROTOCOL out of the server's"
                           " SETTINGS (default), or send it as 0 (h2's default)")
        if name == "client":
            q.add_argument("--scenario", choices=sorted(SCENARIOS), default="echo")
            q.add_argument("--tls", metavar="CERT",
                           help="TLS 1.3, ALPN h2, trusting this certificate")
            q.add_argument("--sni", default="wscap.test")
            q.add_argument("--keylog", help="NSS key log file (with --tls)")
    args = p.parse_args()
    run = {"server": run_hypercorn, "h2server": run_h2server, "client": run_client}[args.cmd]
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
