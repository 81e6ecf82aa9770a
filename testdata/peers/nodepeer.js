#!/usr/bin/env node
// Node `ws` peers for the wscap test captures.
//
//   node nodepeer.js server --port N [--host H] [--deflate] [--lifetime S]
//   node nodepeer.js client deflate|echo --port N [--host H]
//
// The server prints "READY" on stdout once listening and exits by itself
// after --lifetime seconds. Clients send a fixed list of messages and exit.
'use strict';
const { WebSocketServer, WebSocket } = require('ws');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}
const has = (name) => process.argv.includes(name);
const log = (...a) => console.error(...a);

const mode = process.argv[2];
const host = arg('--host', '127.0.0.1');
const port = Number(arg('--port'));
const deflate = { threshold: 0 };

if (mode === 'server') {
  const lifetime = Number(arg('--lifetime', '30'));
  const wss = new WebSocketServer({
    host,
    port,
    perMessageDeflate: has('--deflate') ? deflate : false,
  });
  wss.on('listening', () => console.log('READY'));
  wss.on('connection', (ws, req) => {
    log('server: connection', req.url, 'extensions:', ws.extensions || '(none)');
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('close', (code, reason) => log('server: closed', code, reason.toString()));
    ws.on('error', (e) => log(`server: error: ${e.message} (${e.code}), closing with ${e[Object.getOwnPropertySymbols(e)[0]]}`));
  });
  setTimeout(() => { log('server: lifetime over'); process.exit(0); }, lifetime * 1000);
} else if (mode === 'client') {
  const scenario = process.argv[3];
  const url = `ws://${host.includes(':') ? `[${host}]` : host}:${port}/${scenario}`;
  let messages;
  let closeReason;
  let opts;
  if (scenario === 'deflate') {
    const lorem = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. ';
    messages = [
      { data: 'hello hello hello hello hello', binary: false },
      { data: lorem.repeat(40), binary: false }, // ~2.3 KB, compresses well
      { data: JSON.stringify({ items: Array.from({ length: 60 }, (_, i) => ({ id: i, name: 'item', ok: true })) }), binary: false }, // ~2 KB
      { data: Buffer.from('binary binary binary binary binary binary'), binary: true },
      { data: 'a'.repeat(5000), binary: false },
      { data: 'hello hello hello hello hello', binary: false }, // repeated: shows context takeover
    ];
    closeReason = 'deflate scenario done';
    opts = { perMessageDeflate: deflate };
  } else if (scenario === 'echo') {
    messages = [
      { data: 'hello from node ws', binary: false },
      { data: '', binary: false }, // 0-length text frame
      { data: Buffer.from([0xde, 0xad, 0xbe, 0xef]), binary: true },
      { data: 'z'.repeat(1000), binary: false },
    ];
    closeReason = 'node client says bye';
    opts = { perMessageDeflate: false };
  } else if (scenario === 'probe') {
    // Connect, send one message, report whatever happens (bad-* captures).
    const proto = arg('--subprotocol');
    const ws = new WebSocket(url, proto ? [proto] : [], { perMessageDeflate: false });
    ws.on('open', () => { log('client: open, protocol', JSON.stringify(ws.protocol)); ws.send('hello from ws'); });
    ws.on('message', (d) => log('client: received', d.toString().slice(0, 80)));
    ws.on('unexpected-response', (req, res) => {
      log('client: unexpected response', res.statusCode, res.statusMessage);
      req.destroy();
      process.exit(0);
    });
    ws.on('error', (e) => log('client: error:', e.message));
    ws.on('close', (code, reason) => { log('client: closed', code, reason.toString()); process.exit(0); });
    setTimeout(() => { log('client: timeout, closing'); ws.close(1000, 'probe done'); }, 3000).unref();
    setTimeout(() => process.exit(0), 6000).unref();
    return;
  } else {
    log('unknown scenario', scenario);
    process.exit(2);
  }
  const ws = new WebSocket(url, opts);
  let i = 0;
  const sendNext = () => {
    if (i < messages.length) {
      const m = messages[i];
      ws.send(m.data, { binary: m.binary });
    } else {
      ws.close(1000, closeReason);
    }
  };
  ws.on('open', () => {
    log('client: open, extensions:', ws.extensions || '(none)');
    sendNext();
  });
  ws.on('message', (data, isBinary) => {
    const m = messages[i];
    const sent = Buffer.from(m.data);
    const ok = Buffer.compare(sent, Buffer.from(data)) === 0 && isBinary === m.binary;
    log(`client: message ${i}: sent ${sent.length} got ${data.length} ${ok ? 'OK' : 'MISMATCH'}`);
    if (!ok) process.exitCode = 1;
    i += 1;
    sendNext();
  });
  ws.on('close', (code, reason) => {
    log('client: closed', code, reason.toString());
    process.exit(process.exitCode || 0);
  });
  ws.on('error', (e) => { log('client: error', e.message); process.exit(1); });
  setTimeout(() => { log('client: timeout'); process.exit(1); }, 20000).unref();
} else {
  log('usage: nodepeer.js server|client ...');
  process.exit(2);
}
