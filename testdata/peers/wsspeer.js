#!/usr/bin/env node
// Node `ws` over TLS (wss://) for the issue-13 captures in testdata/wss/.
//
//   node wsspeer.js server CERT KEY --port N [--tls12 CIPHERS] [--lifetime S]
//   node --tls-keylog=FILE wsspeer.js client --port N [--tls12 CIPHERS]
//
// The client's secrets go to the key log through Node's own --tls-keylog;
// the server writes none. --tls12 pins TLS 1.2 and the OpenSSL cipher string
// on both sides; without it both sides speak TLS 1.3 with Node's defaults.
// The server prints "READY" on stdout once listening and exits by itself
// after --lifetime seconds. The client sends a fixed list of messages and
// exits after the close handshake.
'use strict';
const fs = require('fs');
const https = require('https');
const { WebSocketServer, WebSocket } = require('ws');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}
const log = (...a) => console.error(...a);

const mode = process.argv[2];
const host = arg('--host', '127.0.0.1');
const port = Number(arg('--port'));
const tls12 = arg('--tls12');
const versions = tls12
  ? { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: tls12 }
  : { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };

function server() {
  const lifetime = Number(arg('--lifetime', '30'));
  const srv = https.createServer({
    cert: fs.readFileSync(process.argv[3]),
    key: fs.readFileSync(process.argv[4]),
    ALPNProtocols: ['http/1.1'],
    ...versions,
  });
  const wss = new WebSocketServer({ server: srv, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('close', (code, reason) => log('server: closed', code, reason.toString()));
  });
  srv.listen(port, host, () => console.log('READY'));
  setTimeout(() => { log('server: lifetime over'); process.exit(0); }, lifetime * 1000);
}

// Messages sent one at a time, each waiting for its echo; then a burst sent
// in one tick, which Node's TLS socket writes as one TLS record holding
// several WebSocket frames.
const ONE_BY_ONE = ['hello from node over TLS', Buffer.from([0, 1, 2, 3, 250, 251]),
  'y'.repeat(300), Buffer.alloc(20000, 7)];
const BURST = ['burst one', 'burst two', Buffer.from('burst three'), 'burst four'];

function client() {
  const ws = new WebSocket(`wss://${host}:${port}/node`, {
    rejectUnauthorized: false,
    servername: 'wscap.test',
    ALPNProtocols: ['http/1.1'],
    perMessageDeflate: false,
    ...versions,
  });
  const queue = ONE_BY_ONE.slice();
  let burstSent = false;
  let burstEchoes = 0;
  ws.on('open', () => {
    const s = ws._socket;
    log(`client: ${s.getProtocol()} ${s.getCipher().standardName} alpn=${s.alpnProtocol}`);
    ws.ping('node-ping');
  });
  ws.on('pong', (data) => { log('client: pong', data.toString()); ws.send(queue.shift()); });
  ws.on('message', (data) => {
    log('client: got', data.length);
    if (queue.length > 0) {
      ws.send(queue.shift());
    } else if (!burstSent) {
      burstSent = true;
      for (const m of BURST) ws.send(m);
    } else if (++burstEchoes === BURST.length) {
      ws.close(1000, 'node client done');
    }
  });
  ws.on('close', (code) => { log('client: closed', code); process.exit(0); });
  ws.on('error', (e) => { log('client: error', e.message); process.exit(1); });
  setTimeout(() => { log('client: timeout'); process.exit(1); }, 10000);
}

if (mode === 'server') server();
else if (mode === 'client') client();
else { log('usage: wsspeer.js server CERT KEY --port N | client --port N'); process.exit(2); }
