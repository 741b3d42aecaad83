// bench/sqs_load.cjs - the load generator of bench/sqs.sh: one process of
// @aws-sdk/client-sqs clients against txq-sqs.
//
//   node sqs_load.cjs send  QUEUE_URL N CONC GO_FILE
//   node sqs_load.cjs drain QUEUE_URL N CONC GO_FILE
//   node sqs_load.cjs wake  QUEUE_URL K
//
// send: CONC loops of SendMessageBatch (10 entries) until N messages are
// sent. drain: CONC loops of ReceiveMessage (up to 10, no wait) and
// DeleteMessageBatch of what came, until N are deleted (a loop asks only
// for what is left, so the processes of one drain delete exactly N).
// Both warm up (one call), print "ready", wait for GO_FILE to exist (the
// script's barrier across processes) and print
// "start_ms=T0 end_ms=T1 msgs=N" (wall clock, ms).
// wake: K times in turn, a ReceiveMessage with WaitTimeSeconds 20 is
// started, then after 20 ms a SendMessage from a second client; the
// latency is from the send's reply (after its commit) to the receive's
// reply, and ("full") from the send's start, which also counts the send.
// Prints "p50_ms=… p99_ms=… max_ms=… full_p50_ms=… full_p99_ms=… n=K".
// Credentials and endpoint: SQS_ENDPOINT, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY.
"use strict";
const fs = require("fs");
const {
  SQSClient, SendMessageBatchCommand, SendMessageCommand,
  ReceiveMessageCommand, DeleteMessageBatchCommand, ListQueuesCommand,
} = require("@aws-sdk/client-sqs");

const PAYLOAD = '{"type":"order.created","order_id":123456,' +
  '"customer_id":"c-000042","amount_cents":4999,"currency":"EUR"}';

function client() {
  return new SQSClient({
    endpoint: process.env.SQS_ENDPOINT,
    region: "us-east-1",
    maxAttempts: 1,
  });
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

async function barrier(goFile) {
  console.log("ready");
  while (!fs.existsSync(goFile)) await sleep(1);
}

async function send(sqs, url, share) {
  const entries = [];
  for (let i = 0; i < 10; i++) entries.push({ Id: "m" + i, MessageBody: PAYLOAD });
  let left = share;
  while (left > 0) {
    const k = Math.min(10, left);
    const r = await sqs.send(new SendMessageBatchCommand({
      QueueUrl: url, Entries: entries.slice(0, k) }));
    if ((r.Successful || []).length !== k)
      throw new Error("SendMessageBatch: " + JSON.stringify(r.Failed));
    left -= k;
  }
}

async function drain(sqs, url, share) {
  let left = share;
  while (left > 0) {
    const r = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: url, MaxNumberOfMessages: Math.min(10, left),
      WaitTimeSeconds: 0 }));
    const msgs = r.Messages || [];
    if (msgs.length === 0) continue; // held by another loop: it deletes them
    const d = await sqs.send(new DeleteMessageBatchCommand({
      QueueUrl: url,
      Entries: msgs.map((m, i) => ({ Id: "d" + i,
                                     ReceiptHandle: m.ReceiptHandle })) }));
    if ((d.Successful || []).length !== msgs.length)
      throw new Error("DeleteMessageBatch: " + JSON.stringify(d.Failed));
    left -= msgs.length;
  }
}

async function load(what, url, n, conc, goFile) {
  const clients = [];
  for (let i = 0; i < conc; i++) clients.push(client());
  for (const c of clients) await c.send(new ListQueuesCommand({}));
  await barrier(goFile);
  const t0 = Date.now();
  const loops = clients.map((c, i) => {
    const share = Math.floor(n / conc) + (i < n % conc ? 1 : 0);
    return what === "send" ? send(c, url, share) : drain(c, url, share);
  });
  await Promise.all(loops);
  console.log(`start_ms=${t0} end_ms=${Date.now()} msgs=${n}`);
}

async function wake(url, k) {
  const waiter = client(), sender = client();
  const lat = [], full = [];
  await waiter.send(new ListQueuesCommand({}));
  await sender.send(new ListQueuesCommand({}));
  for (let i = 0; i < k; i++) {
    let got = 0;
    const poll = waiter.send(new ReceiveMessageCommand({
      QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 20 }))
      .then((r) => { got = performance.now(); return r; });
    await sleep(20);
    const start = performance.now();
    await sender.send(new SendMessageCommand({ QueueUrl: url,
                                               MessageBody: PAYLOAD }));
    const sent = performance.now();
    const r = await poll;
    const m = (r.Messages || [])[0];
    if (!m) throw new Error("the long poll ended without the message");
    lat.push(got - sent);
    full.push(got - start);
    await waiter.send(new DeleteMessageBatchCommand({ QueueUrl: url,
      Entries: [{ Id: "d", ReceiptHandle: m.ReceiptHandle }] }));
  }
  const pct = (a, p) => a[Math.min(a.length - 1, Math.ceil(p * a.length) - 1)];
  lat.sort((x, y) => x - y);
  full.sort((x, y) => x - y);
  console.log(`p50_ms=${pct(lat, 0.5).toFixed(2)} ` +
              `p99_ms=${pct(lat, 0.99).toFixed(2)} ` +
              `max_ms=${lat[lat.length - 1].toFixed(2)} ` +
              `full_p50_ms=${pct(full, 0.5).toFixed(2)} ` +
              `full_p99_ms=${pct(full, 0.99).toFixed(2)} n=${k}`);
}

const [what, url, a, b, goFile] = process.argv.slice(2);
const run = what === "wake" ? wake(url, Number(a))
  : load(what, url, Number(a), Number(b), goFile);
run.catch((e) => {
  console.error("sqs_load: " + (e.stack || e));
  process.exit(1);
});
