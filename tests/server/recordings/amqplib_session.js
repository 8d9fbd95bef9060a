#!/usr/bin/env node
// The amqplib session recorded in amqplib_session.txt (tools/amqp_capture.py between this
// script and a warren-broker; see README.md). Names are client-chosen so that a replay needs no
// server reply. NODE_PATH must reach amqplib (tests/interop/node/node_modules).
const amqp = require('amqplib');

const url = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672/?heartbeat=0&frameMax=4096';

async function main() {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange('rec.fanout', 'fanout', { durable: false });
  for (const q of ['rec.n1', 'rec.n2']) await ch.deleteQueue(q);
  await ch.assertQueue('rec.n1', { arguments: { 'x-message-ttl': 600000 } });
  await ch.assertQueue('rec.n2', { arguments: { 'x-max-priority': 5 } });
  await ch.bindQueue('rec.n1', 'rec.fanout', '');
  await ch.bindQueue('rec.n2', 'rec.fanout', '');
  for (let i = 0; i < 30; i++) {
    ch.publish('rec.fanout', '', Buffer.from(`m${i}`.repeat(i * 5 + 1)),
               { priority: i % 6, headers: { i }, contentType: 'application/octet-stream' });
  }
  ch.sendToQueue('rec.n1', Buffer.alloc(9000, 7));
  ch.publish('rec.fanout', '', Buffer.from('mandatory'), { mandatory: true });
  await ch.waitForConfirms();
  const c2 = await conn.createChannel();
  await c2.prefetch(10);
  let n = 0;
  await new Promise((resolve) => {
    c2.consume('rec.n2', (msg) => {
      n += 1;
      if (n % 4 === 0) c2.nack(msg, false, true);
      else c2.ack(msg);
      if (n === 25) resolve();
    }, { consumerTag: 'rec.ctag.n2', arguments: { 'x-priority': 3 } });
  });
  await c2.cancel('rec.ctag.n2');
  const got = await c2.get('rec.n1', { noAck: true });
  if (!got) throw new Error('get-empty');
  await c2.purgeQueue('rec.n1');
  await c2.close();
  await ch.unbindQueue('rec.n1', 'rec.fanout', '');
  await ch.deleteQueue('rec.n1');
  await ch.deleteQueue('rec.n2');
  await ch.deleteExchange('rec.fanout');
  await ch.close();
  await conn.close();
  console.error('amqplib session done');
}

main().catch((e) => { console.error(e); process.exit(1); });
