#!/usr/bin/env node
// amqplib interop test: publisher confirms, in-order consumption, mandatory returns.
//
//   AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ node confirms.js [N]
//
// 1. A confirm channel publishes N persistent messages (default 5000) to a server-named
//    exclusive queue, honouring back-pressure ('drain'), then waitForConfirms(); every
//    per-message callback must report an ack.
// 2. A consumer on a second channel (prefetch 100, manual acks), started before the
//    publishing, must receive all N in publish order with their bodies, properties and
//    headers intact, delivery tags 1..N, none redelivered.
// 3. A mandatory publish to an unroutable routing key must come back as a 'return' event
//    (312 NO_ROUTE) *before* its confirm, which is an ack; an unroutable non-mandatory
//    publish is simply acked; a mandatory publish to a bound queue is not returned.
// Exits 0 on success, 1 with a message on any deviation; a watchdog ends it after 90 s.

const amqp = require('amqplib');

const url = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672/';
const N = Number.parseInt(process.argv[2] || '5000', 10);
const WATCHDOG_MS = 90000;

function fail(msg) {
  console.error(`FAIL confirms.js: ${msg}`);
  process.exit(1);
}

function check(cond, msg) {
  if (!cond) fail(msg);
}

function log(msg) {
  console.log(`[confirms.js] ${msg}`);
}

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

const watchdog = setTimeout(() => fail(`watchdog: not finished after ${WATCHDOG_MS} ms`), WATCHDOG_MS);

async function main() {
  const t0 = Date.now();
  const conn = await withTimeout(amqp.connect(url, { timeout: 10000 }), 15000, 'connect');
  conn.on('error', (err) => fail(`connection error: ${err.message}`));
  conn.on('close', (err) => {
    if (err) fail(`connection closed by error: ${err.message}`);
  });
  conn.on('blocked', (reason) => log(`connection blocked: ${reason}`));

  const pub = await conn.createConfirmChannel();
  pub.on('error', (err) => fail(`publisher channel error: ${err.message}`));
  const sub = await conn.createChannel();
  sub.on('error', (err) => fail(`consumer channel error: ${err.message}`));

  // --- 1 + 2: N confirmed messages, consumed in order ------------------------------------
  const q = await pub.assertQueue('', { exclusive: true });
  check(/^amq\.gen-/.test(q.queue), `server-named queue is called ${JSON.stringify(q.queue)}, want amq.gen-*`);
  check(q.messageCount === 0 && q.consumerCount === 0, `new queue reports ${q.messageCount} messages, ${q.consumerCount} consumers`);

  await sub.prefetch(100);
  let received = 0;
  let consumerDone;
  const allReceived = new Promise((resolve) => {
    consumerDone = resolve;
  });
  const { consumerTag } = await sub.consume(
    q.queue,
    (msg) => {
      if (msg === null) fail('consumer cancelled by the broker');
      const i = received;
      const body = msg.content.toString();
      check(body === `message ${i}`, `delivery #${i + 1} has body ${JSON.stringify(body)}, want "message ${i}"`);
      check(msg.fields.deliveryTag === i + 1, `delivery #${i + 1} has delivery tag ${msg.fields.deliveryTag}`);
      check(msg.fields.redelivered === false, `delivery #${i + 1} is marked redelivered`);
      check(msg.fields.exchange === '' && msg.fields.routingKey === q.queue, `delivery #${i + 1}: exchange/key ${msg.fields.exchange}/${msg.fields.routingKey}`);
      const p = msg.properties;
      check(p.messageId === `id-${i}`, `delivery #${i + 1} has messageId ${p.messageId}`);
      check(p.contentType === 'text/plain', `delivery #${i + 1} has contentType ${p.contentType}`);
      check(p.deliveryMode === 2, `delivery #${i + 1} has deliveryMode ${p.deliveryMode}, want 2`);
      check(p.headers && p.headers['x-seq'] === i, `delivery #${i + 1} has headers ${JSON.stringify(p.headers)}`);
      check(p.headers['x-text'] === 'warren', `delivery #${i + 1} lost its string header`);
      sub.ack(msg);
      received += 1;
      if (received === N) consumerDone();
    },
    { noAck: false },
  );

  let acked = 0;
  let nacked = 0;
  const tPub = Date.now();
  for (let i = 0; i < N; i++) {
    const ok = pub.sendToQueue(
      q.queue,
      Buffer.from(`message ${i}`),
      {
        persistent: true,
        messageId: `id-${i}`,
        contentType: 'text/plain',
        headers: { 'x-seq': i, 'x-text': 'warren' },
      },
      (err) => {
        if (err) nacked += 1;
        else acked += 1;
      },
    );
    if (!ok) await withTimeout(new Promise((resolve) => pub.once('drain', resolve)), 20000, 'drain');
  }
  await withTimeout(pub.waitForConfirms(), 30000, 'waitForConfirms');
  const pubMs = Date.now() - tPub;
  check(nacked === 0, `${nacked} of ${N} messages were nacked`);
  check(acked === N, `${acked} of ${N} messages were acked after waitForConfirms`);
  log(`${N} messages published and confirmed in ${pubMs} ms`);

  await withTimeout(allReceived, 30000, `consuming ${N} messages (got ${received})`);
  log(`${N} messages consumed in order`);
  await sub.cancel(consumerTag);
  // acks are asynchronous: wait until the queue reports no message left
  const deadline = Date.now() + 10000;
  for (;;) {
    const st = await pub.checkQueue(q.queue);
    if (st.messageCount === 0) break;
    check(Date.now() < deadline, `queue still reports ${st.messageCount} messages after all were acked`);
    await new Promise((r) => setTimeout(r, 50));
  }

  // --- 3: mandatory and returns -------------------------------------------------------
  const events = [];
  pub.on('return', (msg) => {
    events.push({ kind: 'return', msg });
  });
  const confirmed = (tag) => (err) => events.push({ kind: err ? 'nack' : 'ack', tag });

  pub.publish('', 'warren-no-such-queue', Buffer.from('unroutable mandatory'), { mandatory: true, messageId: 'm-1' }, confirmed('unroutable-mandatory'));
  pub.publish('amq.direct', 'nobody-bound-here', Buffer.from('unroutable mandatory 2'), { mandatory: true, messageId: 'm-2' }, confirmed('unroutable-mandatory-2'));
  pub.publish('', 'warren-no-such-queue', Buffer.from('unroutable, not mandatory'), {}, confirmed('unroutable-plain'));
  pub.publish('', q.queue, Buffer.from('routable mandatory'), { mandatory: true }, confirmed('routable-mandatory'));
  await withTimeout(pub.waitForConfirms(), 10000, 'waitForConfirms (mandatory)');
  await new Promise((r) => setTimeout(r, 200)); // a stray late return would show up here

  const returns = events.filter((e) => e.kind === 'return');
  check(returns.length === 2, `got ${returns.length} basic.return(s), want 2: ${JSON.stringify(returns.map((r) => r.msg.fields))}`);
  const [r1, r2] = returns.map((r) => r.msg);
  check(r1.fields.replyCode === 312, `return reply code ${r1.fields.replyCode}, want 312`);
  check(r1.fields.replyText === 'NO_ROUTE', `return reply text ${JSON.stringify(r1.fields.replyText)}, want "NO_ROUTE"`);
  check(r1.fields.exchange === '' && r1.fields.routingKey === 'warren-no-such-queue', `return fields ${JSON.stringify(r1.fields)}`);
  check(r1.content.toString() === 'unroutable mandatory' && r1.properties.messageId === 'm-1', 'the returned message lost its body or properties');
  check(r2.fields.replyCode === 312 && r2.fields.exchange === 'amq.direct' && r2.fields.routingKey === 'nobody-bound-here', `second return fields ${JSON.stringify(r2.fields)}`);
  check(r2.content.toString() === 'unroutable mandatory 2', 'the second returned message lost its body');

  const order = events.map((e) => (e.kind === 'return' ? `return:${e.msg.properties.messageId}` : `${e.kind}:${e.tag}`));
  const want = ['return:m-1', 'ack:unroutable-mandatory', 'return:m-2', 'ack:unroutable-mandatory-2', 'ack:unroutable-plain', 'ack:routable-mandatory'];
  check(JSON.stringify(order) === JSON.stringify(want), `events ${JSON.stringify(order)}, want ${JSON.stringify(want)}`);
  log('mandatory unroutable publishes returned (312 NO_ROUTE) before their acks');

  const st = await pub.checkQueue(q.queue);
  check(st.messageCount === 1, `queue holds ${st.messageCount} messages, want 1 (the routable mandatory one)`);

  await pub.close();
  await sub.close();
  await conn.close();
  clearTimeout(watchdog);
  console.log(`PASS confirms.js (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
