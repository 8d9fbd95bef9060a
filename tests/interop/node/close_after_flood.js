#!/usr/bin/env node
// amqplib interop test: a client that fills its write buffer with publishes and then closes
// must get its close-ok, every time.
//
//   AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ node close_after_flood.js [ROUNDS]
//
// Each round opens a connection and a channel, publishes 64 KiB messages to an unroutable key
// until amqplib reports its buffer full (at most 8 MiB), queues 4 MiB more without waiting for
// 'drain' (megabytes still unsent), then calls connection.close(). amqplib may write the close ahead of
// the queued channel frames; a broker that closed the socket with them unread made the kernel
// reset the connection, and close() then failed or never resolved. Exits 0 when every close
// resolved; 1 with a message otherwise; a watchdog ends it after 90 s.

const amqp = require('amqplib');

const url = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672/';
const ROUNDS = Number.parseInt(process.argv[2] || '10', 10);

function fail(msg) {
  console.error(`FAIL close_after_flood.js: ${msg}`);
  process.exit(1);
}

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

async function round(i) {
  const conn = await amqp.connect(url);
  let error = null;
  conn.on('error', (e) => { error = e; });
  const ch = await conn.createChannel();
  ch.on('error', (e) => { error = e; });
  const body = Buffer.alloc(64 * 1024, i);
  let sent = 0;
  while (sent < 128 && ch.publish('', 'close-after-flood.nowhere', body)) sent += 1;
  for (let j = 0; j < 64; j++) ch.publish('', 'close-after-flood.nowhere', body);
  const queuedMiB = ((sent + 64) * body.length) / (1 << 20);
  try {
    await withTimeout(conn.close(), 20000, `round ${i}: close() with ~${queuedMiB.toFixed(0)} MiB queued`);
  } catch (e) {
    fail(`round ${i}: ${e.message}`);
  }
  if (error) fail(`round ${i}: connection error during close: ${error.message}`);
  return queuedMiB;
}

async function main() {
  const watchdog = setTimeout(() => fail('watchdog: no result within 90 s'), 90000);
  let total = 0;
  for (let i = 0; i < ROUNDS; i++) total += await round(i);
  clearTimeout(watchdog);
  console.log(`[close_after_flood.js] ${ROUNDS} closes answered, ~${(total / ROUNDS).toFixed(1)} MiB queued at each`);
}

main().catch((e) => fail(e.stack || e.message));
