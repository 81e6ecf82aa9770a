#!/usr/bin/env python3
"""aiohttp peers for the wscap test captures.

Sub-commands:
  server    aiohttp web server (prints "READY" on stdout once listening):
              GET /health   200, text body with Content-Length
              GET /other    200, chunked body (streamed in 3 chunks)
              GET /fail     WebSocket; the handler raises after the first message
              any other     WebSocket echo (text, binary; pings answered)
  client    aiohttp client running one named scenario

Everything is bounded: the server exits after --lifetime seconds even if
nobody stops it, and every client scenario sends a fixed list of messages.
"""
import argparse
import asyncio
import sys

import aiohttp
from aiohttp import web, WSMsgType


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def blob(n):
    return bytes(i % 251 for i in range(n))


# ---------------------------------------------------------------- server

async def health(request):
    return web.Response(text="ok\n")


async def other(request):
    resp = web.StreamResponse()
    resp.enable_chunked_encoding()
    resp.content_type = "text/plain"
    await resp.prepare(request)
    for part in (b"first chunk\n", b"second chunk, a bit longer\n", b"third\n"):
        await resp.write(part)
        await asyncio.sleep(0.01)
    await resp.write_eof()
    return resp


async def ws_echo(request):
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return web.Response(status=426, text="WebSocket only\n",
                            headers={"Upgrade": "websocket", "Connection": "Upgrade"})
    ws = web.WebSocketResponse(autoping=True, heartbeat=None, compress=False)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
        elif msg.type == WSMsgType.ERROR:
            log("server: error:", ws.exception())
    log("server: closed, code", ws.close_code)
    return ws


async def ws_fail(request):
    ws = web.WebSocketResponse(autoping=True, heartbeat=None, compress=False)
    await ws.prepare(request)
    msg = await ws.receive()
    log("server: /fail got", msg.type, repr(msg.data)[:60], "- raising")
    raise RuntimeError("application failed while handling the message")


async def run_server(args):
    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/other", other)
    app.router.add_get("/fail", ws_fail)
    app.router.add_get("/{tail:.*}", ws_echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    print("READY", flush=True)
    await asyncio.sleep(args.lifetime)
    log("server: lifetime over, exiting")
    await runner.cleanup()


# ---------------------------------------------------------------- clients

def base(args):
    host = f"[{args.host}]" if ":" in args.host else args.host
    return f"http://{host}:{args.port}"


async def roundtrip(ws, msg, label):
    if isinstance(msg, str):
        await ws.send_str(msg)
    else:
        await ws.send_bytes(msg)
    reply = await ws.receive()
    ok = reply.data == msg
    log(f"client: {label}: sent {len(msg)} got {len(reply.data)} {'OK' if ok else 'MISMATCH'}")
    if not ok:
        raise SystemExit(f"echo mismatch for {label}")


async def sc_echo(args):
    """aiohttp-echo.pcap: text, binary, ping/pong, 70000 B, close 1000."""
    async with aiohttp.ClientSession() as s:
        # autoping=False so that the pong is returned by receive().
        async with s.ws_connect(base(args) + "/aiohttp-echo", autoping=False,
                                compress=0, max_msg_size=0) as ws:
            await roundtrip(ws, "Hello from aiohttp", "text")
            await roundtrip(ws, bytes(range(16)), "binary")
            await ws.ping(b"ping-payload")
            pong = await ws.receive()
            log("client: got", pong.type.name, pong.data)
            await roundtrip(ws, blob(70000), "binary-70000")
            await roundtrip(ws, "z" * 300, "text-300")
            await ws.close(code=1000, message=b"done")
            log("client: closed", ws.close_code)


async def sc_short(args):
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(base(args) + "/short", compress=0) as ws:
            await roundtrip(ws, "hello from aiohttp", "text")
            await roundtrip(ws, b"\x00\x01\x02\x03binary", "binary")
            await roundtrip(ws, "y" * 200, "text-200")
            await ws.close()
            log("client: closed", ws.close_code)


async def sc_keepalive(args):
    """keepalive-upgrade.pcap: on ONE TCP connection (connector limit 1,
    keep-alive): GET /health, GET /other (chunked), then the upgrade."""
    conn = aiohttp.TCPConnector(limit=1, force_close=False)
    async with aiohttp.ClientSession(connector=conn) as s:
        async with s.get(base(args) + "/health") as r:
            log("client: /health", r.status, r.headers.get("Content-Length"), repr(await r.text()))
        async with s.get(base(args) + "/other") as r:
            log("client: /other", r.status, r.headers.get("Transfer-Encoding"), repr(await r.text()))
        async with s.ws_connect(base(args) + "/ws", compress=0) as ws:
            await roundtrip(ws, "first message after keep-alive", "text")
            await roundtrip(ws, b"\x01\x02\x03\x04", "binary")
            await roundtrip(ws, "third", "text")
            await ws.close(code=1000, message=b"keepalive done")
            log("client: closed", ws.close_code)


SCENARIOS = {"echo": sc_echo, "short": sc_short, "keepalive": sc_keepalive}


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--lifetime", type=float, default=30.0)
    c = sub.add_parser("client")
    c.add_argument("scenario", choices=sorted(SCENARIOS))
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    if args.cmd == "server":
        asyncio.run(run_server(args))
    else:
        asyncio.run(asyncio.wait_for(SCENARIOS[args.scenario](args), 30))


if __name__ == "__main__":
    main()
