/**
 * Loopback throughput of the peer transport: MsgApp messages carrying 1 KiB entries from one
 * transport to another on 127.0.0.1, as fast as the receiver takes them, against a raw TCP socket
 * on loopback carrying the same bytes in the same run.
 * Run: make bench-transport (BENCH_SECONDS=n to change the 3-second runs).
 */
import { createServer, connect } from "node:net";
import { setImmediate as turn } from "node:timers/promises";
import { PeerTransport } from "../node/src/transport/peer-transport.ts";
import { MessageType, type Message } from "../node/src/raft/messages.ts";
import { EntryType } from "../node/src/raft/types.ts";
import { machine, progress, writeResult, type Row } from "./lib/report.ts";

const DATA = new Uint8Array(1024).fill(7);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

/** MB/s of raw bytes through one TCP connection on loopback, written in 256 KiB chunks. */
async function rawTcp(): Promise<number> {
  let received = 0;
  const server = createServer((socket) => socket.on("data", (chunk: Buffer) => (received += chunk.length)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const socket = connect((server.address() as { port: number }).port, "127.0.0.1");
  await new Promise((r) => socket.once("connect", r));
  const chunk = Buffer.alloc(256 * 1024, 7);
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    if (!socket.write(chunk)) await new Promise((r) => socket.once("drain", r));
  }
  const elapsed = (performance.now() - start) / 1000;
  socket.destroy();
  await new Promise((r) => server.close(r));
  return received / elapsed / 1e6;
}

async function run(entriesPerMessage: number): Promise<{ messagesPerSecond: number; megabytesPerSecond: number; batches: number; messages: number; dropped: number }> {
  let received = 0;
  let receivedBytes = 0;
  const receiver = new PeerTransport({
    id: 2, listen: "127.0.0.1:0",
    onMessages: (ms) => {
      received += ms.length;
      for (const m of ms) if (m.type === MessageType.App) for (const e of m.entries) receivedBytes += e.data.length;
    },
  });
  const sender = new PeerTransport({ id: 1, listen: "127.0.0.1:0", onMessages: () => undefined });
  const to = await receiver.start();
  await sender.start();
  sender.addPeer(2, to);
  while (sender.stats().peers.get(2)?.reachable !== true) await turn();
  let index = 0;
  const message = (): Message => {
    const entries = Array.from({ length: entriesPerMessage }, () => ({ index: ++index, term: 1, type: EntryType.Normal, data: DATA }));
    return { type: MessageType.App, from: 1, to: 2, term: 1, prevIndex: entries[0]!.index - 1, prevTerm: 1, entries, commit: index };
  };
  const start = performance.now();
  let sent = 0;
  while (performance.now() - start < SECONDS * 1000) {
    // Keep the queue fed but well below its bounds, as a leader's flow control would.
    const backlog = sent - received;
    if (backlog < 2_048 && backlog * entriesPerMessage < 8_192) {
      const batch = Array.from({ length: 256 }, message);
      sender.send(batch);
      sent += batch.length;
    }
    await turn();
  }
  const elapsed = (performance.now() - start) / 1000;
  const stats = sender.stats().peers.get(2)!;
  await sender.close();
  await receiver.close();
  return { messagesPerSecond: received / elapsed, megabytesPerSecond: receivedBytes / elapsed / 1e6, batches: stats.batchesSent, messages: stats.messagesSent, dropped: stats.dropped };
}

progress(`raw TCP on loopback, ${SECONDS} s`);
const raw = await rawTcp();
progress(`  ${raw.toFixed(0)} MB/s`);
const rows: Row[] = [];
const details: Record<string, unknown> = { rawTcpMBps: raw };
for (const perMessage of [1, 16, 64]) {
  progress(`transport: ${perMessage} x 1 KiB entries per MsgApp, ${SECONDS} s`);
  const r = await run(perMessage);
  progress(`  ${Math.round(r.messagesPerSecond)} messages/s, ${r.megabytesPerSecond.toFixed(1)} MB/s of entry data, ${r.batches} batches, ${r.dropped} dropped`);
  rows.push({ measure: `${perMessage} x 1 KiB entries per message: entry data`, kingbus: r.megabytesPerSecond, baseline: raw, unit: "MB/s", goal: "≥ 100 MB/s (a primary's binlog rate with headroom)" });
  details[`${perMessage} per message`] = r;
}
writeResult({
  name: "transport",
  title: "Peer transport: Raft append messages over gRPC on loopback",
  baseline: "one raw TCP connection on loopback carrying bytes in 256 KiB writes (same run)",
  machine: machine(),
  date: new Date().toISOString(),
  rows,
  notes: [`${SECONDS} s per measure, plaintext, both ends in one process; reproduce with \`make bench-transport\` (BENCH_SECONDS to change).`],
  details,
});
