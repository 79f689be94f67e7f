// SPDX-License-Identifier: MIT
// broadcast.js - the WebSocket chat people write with npm ws, for bench/compare to measure
// natter's web door against (bench/README.md, "WebSocket").
//
// The broadcast of ws's own README (wss.clients.forEach, skip the sender, client.send(data)),
// made comparable with natter's line protocol: a client's first message is its name; every
// later message is sent as "NAME: TEXT" to every other open client, one string built once per
// message. No prompt, no join notices, no flood control, no output limit: nothing but the
// fan-out. Every open client gets the broadcasts, named or not yet, so a client is in as soon
// as its upgrade is answered.
//
// usage: node broadcast.js [--host 127.0.0.1] [--port 8080] [--tls-cert CERT --tls-key KEY]
// Prints "listening on ws://HOST:PORT" (wss:// with TLS) once it listens; --port 0 picks a
// free port. SIGTERM or SIGINT: closes every client and exits 0.
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocket, WebSocketServer } = require('ws');

function parseArgs(argv) {
  const opts = { host: '127.0.0.1', port: 8080, tlsCert: null, tlsKey: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${arg} needs a value`);
    if (arg === '--host') opts.host = value;
    else if (arg === '--port') opts.port = Number(value);
    else if (arg === '--tls-cert') opts.tlsCert = value;
    else if (arg === '--tls-key') opts.tlsKey = value;
    else throw new Error(`unknown argument ${arg}`);
    i++;
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)
    throw new Error('--port: a port number');
  if (!opts.tlsCert !== !opts.tlsKey) throw new Error('--tls-cert and --tls-key go together');
  return opts;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(`broadcast.js: ${e.message}`);
  process.exit(2);
}

const server = opts.tlsCert
  ? https.createServer({ cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) })
  : http.createServer();
const wss = new WebSocketServer({ server });
let errors = 0;

wss.on('connection', function connection(ws) {
  // A peer that resets is closed by ws itself; only count it.
  ws.on('error', () => errors++);

  ws.on('message', function message(data) {
    if (ws.name === undefined) {
      ws.name = data.toString();
      return;
    }
    const line = `${ws.name}: ${data}`;
    wss.clients.forEach(function each(client) {
      if (client !== ws && client.readyState === WebSocket.OPEN) {
        client.send(line);
      }
    });
  });
});

server.listen(opts.port, opts.host, () => {
  const { address, port } = server.address();
  console.log(`listening on ${opts.tlsCert ? 'wss' : 'ws'}://${address}:${port}`);
});

function stop() {
  for (const client of wss.clients) client.terminate();
  wss.close();
  server.close(() => {
    if (errors) console.error(`broadcast.js: ${errors} connection error(s)`);
    process.exit(0);
  });
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
