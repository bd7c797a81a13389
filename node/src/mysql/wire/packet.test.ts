import assert from "node:assert/strict";
import { createServer, connect, type Socket } from "node:net";
import { test } from "node:test";
import fc from "fast-check";
import { MAX_PACKET_PAYLOAD } from "./constants.ts";
import { WireError } from "./errors.ts";
import { framePayload, PacketParser } from "./packet.ts";
import { PacketSocket } from "./packet-socket.ts";
import { StagePool } from "./stage-pool.ts";

/** Headers of the framed packets: [length, sequence id]. */
function headers(chunks: Buffer[]): Array<[number, number]> {
  const joined = Buffer.concat(chunks);
  const out: Array<[number, number]> = [];
  for (let at = 0; at < joined.length; ) {
    const length = joined.readUIntLE(at, 3);
    out.push([length, joined[at + 3]!]);
    at += 4 + length;
  }
  return out;
}

test("framing: u24 length + sequence id; splits at 0xFFFFFF with an empty packet after an exact multiple", () => {
  const M = MAX_PACKET_PAYLOAD;
  assert.deepEqual(headers(framePayload(Buffer.alloc(0), 0).chunks), [[0, 0]]);
  assert.deepEqual(headers(framePayload(Buffer.alloc(5), 3).chunks), [[5, 3]]);
  assert.deepEqual(headers(framePayload(Buffer.alloc(M - 1), 0).chunks), [[M - 1, 0]]);
  const exact = framePayload(Buffer.alloc(M), 0);
  assert.deepEqual(headers(exact.chunks), [[M, 0], [0, 1]]);
  assert.equal(exact.packets, 2);
  assert.equal(exact.nextSequenceId, 2);
  assert.equal(exact.length, M + 8);
  assert.deepEqual(headers(framePayload(Buffer.alloc(M + 1), 7).chunks), [[M, 7], [1, 8]]);
  assert.deepEqual(headers(framePayload(Buffer.alloc(2 * M), 0).chunks), [[M, 0], [M, 1], [0, 2]]);
  // Sequence ids wrap at 256.
  const wrapped = framePayload(Buffer.alloc(M + 2), 255);
  assert.deepEqual(headers(wrapped.chunks), [[M, 255], [2, 0]]);
  assert.equal(wrapped.nextSequenceId, 1);
});

test("reassembly: a payload split over packets comes back whole, however the bytes arrive", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 0, max: 255 }),
      fc.array(fc.integer({ min: 1, max: 23 }), { minLength: 1, maxLength: 10 }),
      (sizes, firstSeq, cuts) => {
        // A small packet size makes splits frequent: 7 bytes per packet.
        const max = 7;
        const payloads = sizes.map((size, i) => Buffer.alloc(size, i + 1));
        let seq = firstSeq;
        const wire: Buffer[] = [];
        const firstSeqs: number[] = [];
        for (const payload of payloads) {
          firstSeqs.push(seq);
          const framed = framePayload(payload, seq, max);
          wire.push(...framed.chunks);
          seq = framed.nextSequenceId;
        }
        const bytes = Buffer.concat(wire);
        const parser = new PacketParser({ maxPacketPayload: max });
        const got: Buffer[] = [];
        const gotSeqs: number[] = [];
        let at = 0;
        for (let i = 0; at < bytes.length; i++) {
          const n = cuts[i % cuts.length]!;
          parser.push(bytes.subarray(at, at + n));
          at += n;
          for (let r = parser.next(); r; r = parser.next()) {
            got.push(r.payload);
            gotSeqs.push(r.sequenceId);
            assert.equal(r.packets, Math.floor(r.payload.length / max) + 1);
          }
        }
        assert.deepEqual(got.map((b) => b.toString("hex")), payloads.map((b) => b.toString("hex")));
        assert.deepEqual(gotSeqs, firstSeqs);
        assert.equal(parser.pendingBytes, 0);
      },
    ),
    { numRuns: 300 },
  );
});

test("reassembly refuses a continuation out of sequence and a payload over the limit", () => {
  const framed = framePayload(Buffer.alloc(10), 0, 4);
  const bytes = Buffer.concat(framed.chunks);
  bytes[8 + 3] = 9; // the second packet's sequence id
  const parser = new PacketParser({ maxPacketPayload: 4 });
  parser.push(bytes);
  assert.throws(() => parser.next(), (e: unknown) => e instanceof WireError && e.code === "WIRE_OUT_OF_ORDER");

  const small = new PacketParser({ maxPayload: 8, maxPacketPayload: 4 });
  small.push(Buffer.concat(framePayload(Buffer.alloc(10), 0, 4).chunks));
  assert.throws(() => small.next(), (e: unknown) => e instanceof WireError && e.code === "WIRE_TOO_LARGE");
});

async function socketPair(): Promise<{ a: Socket; b: Socket; close: () => void }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const a = connect(port, "127.0.0.1");
  const b = await accepted;
  return { a, b, close: () => (a.destroy(), b.destroy(), server.close()) };
}

test("PacketSocket: sequence ids checked on read, continued on write, reset per command", async () => {
  const { a, b, close } = await socketPair();
  try {
    const server = new PacketSocket(b);
    const client = new PacketSocket(a);
    // A command (id 0), a two-packet reply (ids 1, 2), the next command after a reset (id 0).
    await client.write(Buffer.from("ping"));
    assert.equal((await server.read()).toString(), "ping");
    assert.equal(server.sequenceId, 1);
    await server.writeAll([Buffer.from("one"), Buffer.from("two")]);
    assert.equal((await client.read()).toString(), "one");
    assert.equal((await client.read()).toString(), "two");
    assert.equal(client.sequenceId, 3);
    client.resetSequence();
    server.resetSequence();
    await client.write(Buffer.from("again"));
    assert.equal((await server.read()).toString(), "again");
    // Within a command ids keep counting (1 here); one that skips ahead is refused.
    await client.write(Buffer.from("more"));
    assert.equal((await server.read()).toString(), "more");
    // A read that times out does not swallow the packet that comes later.
    await assert.rejects(server.readWithin(20), (e: unknown) => e instanceof WireError && e.code === "WIRE_TIMEOUT");
    await client.write(Buffer.from("later"));
    assert.equal((await server.readWithin(1000)).toString(), "later");
    client.sequenceId = 9;
    await client.write(Buffer.from("bad"));
    await assert.rejects(server.read(), (e: unknown) => e instanceof WireError && e.code === "WIRE_OUT_OF_ORDER");
  } finally {
    close();
  }
});

test("PacketSocket: writes wait for 'drain' when the peer does not read, and the peer gets everything", async () => {
  const { a, b, close } = await socketPair();
  try {
    const writer = new PacketSocket(b);
    b.setNoDelay(true);
    a.pause(); // the reader stops reading: the kernel buffers fill up
    const chunk = Buffer.alloc(256 * 1024, 7);
    let waited = false;
    let written = 0;
    for (let i = 0; i < 64 && !waited; i++) {
      const pending = writer.write(chunk);
      let settled = false;
      void pending.then(() => (settled = true));
      await new Promise((resolve) => setImmediate(resolve));
      written++;
      if (!settled) {
        waited = true;
        // It settles once the reader drains the socket.
        a.resume();
        const reader = new PacketSocket(a);
        await pending;
        for (let j = 0; j < written; j++) assert.equal((await reader.read()).length, chunk.length);
      }
    }
    assert.ok(waited, "a write waited for the socket to drain");
  } finally {
    close();
  }
});

test("PacketSocket: a closed connection fails pending reads and later writes", async () => {
  const { a, b, close } = await socketPair();
  try {
    const server = new PacketSocket(b);
    const pending = server.read();
    a.destroy();
    await assert.rejects(pending, (e: unknown) => e instanceof WireError && e.code === "WIRE_CLOSED");
    await server.closed;
    await assert.rejects(server.write(Buffer.from("x")), (e: unknown) => e instanceof WireError && e.code === "WIRE_CLOSED");
  } finally {
    close();
  }
});

test("PacketSocket.writeParts copies: the caller may overwrite its buffers as soon as the call returns", async () => {
  const { a, b, close } = await socketPair();
  try {
    const writer = new PacketSocket(b);
    // The peer reads nothing at first: the kernel's buffers fill and the socket keeps what follows
    // queued in this process, where a buffer passed by reference would be read only later.
    a.pause();
    const filler = Buffer.alloc(8 * 1024 * 1024, 1);
    const pendings = [writer.write(filler)];
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Small and medium payloads are staged; one larger than a staging buffer gets its own.
    const sizes = [100, 20 * 1024, 8 * 1024, 200 * 1024, 1, 60 * 1024];
    const scratch = Buffer.alloc(256 * 1024);
    const expected: Buffer[] = [];
    for (const [k, size] of sizes.entries()) {
      scratch.fill(k + 1, 0, size);
      const prefix = Buffer.from([0]);
      const pending = writer.writeParts([prefix, scratch.subarray(0, size)]);
      expected.push(Buffer.concat([prefix, scratch.subarray(0, size)]));
      // As a dump's next read would: the same memory, new bytes.
      scratch.fill(0xee);
      prefix[0] = 0xee;
      pendings.push(pending);
    }
    writer.flush();
    assert.ok(b.writableLength > 0, "the writes are still queued in this process");
    a.resume();
    const reader = new PacketSocket(a);
    assert.equal((await reader.read()).length, filler.length);
    await Promise.all(pendings);
    for (const [k, want] of expected.entries()) {
      const got = await reader.read();
      assert.equal(got.length, want.length, `payload ${k}: length`);
      assert.ok(got.equals(want), `payload ${k} (${sizes[k]} bytes) arrived as written, not as overwritten`);
    }
  } finally {
    close();
  }
});

test("PacketSocket.writePartsNow by reference: large payloads queued as they are, small ones staged, all in order", async () => {
  const { a, b, close } = await socketPair();
  try {
    const writer = new PacketSocket(b);
    const reader = new PacketSocket(a);
    const payloads = [100, 20 * 1024, 1, 300 * 1024, 2 * 1024, 3000].map((size, k) => Buffer.alloc(size, k + 1));
    for (const p of payloads) await (writer.writePartsNow([Buffer.from([0]), p], true) ?? Promise.resolve());
    writer.flush();
    for (const [k, p] of payloads.entries()) {
      const got = await reader.read();
      assert.ok(got.equals(Buffer.concat([Buffer.from([0]), p])), `payload ${k} (${p.length} bytes)`);
    }
  } finally {
    close();
  }
});

test("PacketSocket staging buffers come back to the pool once written: a socket kept full allocates a bounded number, however long it streams", async () => {
  const { a, b, close } = await socketPair();
  try {
    const stages = new StagePool(16 * 1024, 1024 * 1024);
    const writer = new PacketSocket(b, { stages });
    const reader = new PacketSocket(a);
    const payloads = 20_000;
    const event = Buffer.alloc(3000, 7);
    let received = 0;
    const reading = (async () => {
      for (let k = 0; k < payloads; k++) {
        const got = await reader.read();
        assert.equal(got.length, 1 + event.length, `payload ${k}`);
        received++;
        // A slow replica: it stops reading now and then, so the writer's socket fills and
        // drains again and again.
        if (k % 400 === 0) {
          a.pause();
          await new Promise((resolve) => setTimeout(resolve, 5));
          a.resume();
        }
      }
    })();
    let waits = 0;
    for (let k = 0; k < payloads; k++) {
      const pending = writer.writePartsNow([Buffer.from([0]), event]);
      if (pending) {
        waits++;
        await pending;
      }
    }
    writer.flush();
    await reading;
    assert.equal(received, payloads);
    // 60 MB went through 16 KiB staging buffers, with the socket full (`waits` times) and
    // drained again: what came back once written served again.
    assert.ok(waits > 10, `the socket filled ${waits} times`);
    const staged = Math.ceil((payloads * (4 + 1 + event.length)) / stages.bufferBytes);
    // (A pool keeping 2, as each connection once did, allocated about 100 here.)
    assert.ok(stages.allocated < 32, `${stages.allocated} staging buffers allocated for ${staged} filled`);
  } finally {
    close();
  }
});
